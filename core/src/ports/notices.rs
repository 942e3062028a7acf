//! Sending notices once: a ledger of what was sent (keyed by the event's
//! stable id, the channel and the recipient), and the mail service.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{AwsError, StoreError};

/// What a claim on a notice found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeClaim {
    /// The caller sends it now.
    Claimed,
    /// It was sent already (a duplicate delivery of the event).
    Sent,
    /// Another delivery is sending it right now.
    Busy,
}

/// Each notice is claimed before it is sent and marked after: a duplicate
/// event finds it sent; a sender that died mid-way leaves a claim that the
/// next delivery takes over once it is stale.
#[async_trait]
pub trait NoticeLedger: Send + Sync {
    /// Claims `key` at `now`; a claim made before `stale_before` and never
    /// marked sent is taken over. Entries expire by themselves at `expires_at`.
    async fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<NoticeClaim, StoreError>;

    /// Marks the notice sent, if the claim made at `claimed_at` still holds
    /// it (a claim taken over as stale is the new sender's).
    async fn mark_sent(&self, key: &str, claimed_at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Gives the claim made at `claimed_at` up (the send failed), if it
    /// still holds the notice: the next delivery tries again.
    async fn release(&self, key: &str, claimed_at: DateTime<Utc>) -> Result<(), StoreError>;
}

/// One mail to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// The mail service (Amazon SES): its failures are classified as any AWS call's.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `mail`; the service's message id.
    async fn send(&self, mail: &Mail) -> Result<String, AwsError>;
}
