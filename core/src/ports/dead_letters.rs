use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{QueueError, StoreError};
use crate::domain::TaskInstanceId;

/// Why a message was given up on, kept beside the dead-letter queue it went
/// to: SQS moves the message but not the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterNote {
    /// The source queue's name.
    pub queue: String,
    /// SQS keeps the message id when it moves a message to the dead-letter queue.
    pub message_id: String,
    pub reason: String,
    pub task_instance_id: Option<TaskInstanceId>,
    pub receive_count: u32,
    pub at: DateTime<Utc>,
}

#[async_trait]
pub trait DeadLetterLog: Send + Sync {
    async fn note(&self, note: &DeadLetterNote) -> Result<(), StoreError>;

    /// Notes for messages given up on from `queue` (its name), newest last.
    async fn notes(&self, queue: &str) -> Result<Vec<DeadLetterNote>, StoreError>;
}

/// A message as it sits in a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldMessage {
    pub message_id: String,
    pub body: String,
    pub receive_count: Option<u32>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// The dead-letter queues themselves (SQS, in tel-aws): read without taking
/// anything, and moved back to the queue a message came from.
#[async_trait]
pub trait DeadLetterQueues: Send + Sync {
    /// Up to `max` messages of the dead-letter queue, none removed (each
    /// visible again at once after, so a redrive right after finds them).
    async fn peek(&self, dead_letter_url: &str, max: usize)
    -> Result<Vec<HeldMessage>, QueueError>;

    /// Moves up to `max` messages back to `source_url` with their message
    /// attributes (the trace context); returns how many. `progress` hears the
    /// running count after every batch. A message is deleted from the
    /// dead-letter queue only once its copy is sent, so a failure part-way
    /// loses nothing (at worst a message is sent twice, which the handlers
    /// absorb).
    async fn redrive(
        &self,
        dead_letter_url: &str,
        source_url: &str,
        max: usize,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<usize, QueueError>;

    /// As `redrive`, for only the messages whose ids are in `only` (those a
    /// filter picked from a `peek`); every other message stays where it is.
    async fn redrive_only(
        &self,
        dead_letter_url: &str,
        source_url: &str,
        only: &std::collections::HashSet<String>,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<usize, QueueError>;
}
