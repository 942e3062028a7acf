use async_trait::async_trait;

use super::AwsError;
use crate::domain::TaskError;
use crate::domain::task_error::CONFIGURATION_ERROR;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    /// 0 to 900 seconds (the SQS maximum).
    pub delay_seconds: u32,
    /// W3C `traceparent` (or an X-Ray header), sent as the `traceparent` message attribute.
    pub trace: Option<String>,
}

/// The most one message (and one batch) may hold: the classic SQS limit,
/// kept although SQS now takes 1 MiB, so the same code fits every region
/// and emulator.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// The longest delay a message may carry (the SQS maximum).
pub const MAX_DELAY_SECONDS: u32 = 900;

impl OutgoingMessage {
    /// Whether a queue takes this message at all: within the size and delay
    /// limits. Refused for what it is (`Rejected`): sending it again will not help.
    pub fn check(&self) -> Result<(), QueueError> {
        let size = self.body.len();
        if size > MAX_MESSAGE_BYTES {
            return Err(QueueError::Rejected(format!(
                "message of {size} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit"
            )));
        }
        if self.delay_seconds > MAX_DELAY_SECONDS {
            return Err(QueueError::Rejected(format!(
                "delay of {}s exceeds the {MAX_DELAY_SECONDS}s SQS maximum",
                self.delay_seconds
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub waiting: u64,
    pub in_flight: u64,
    /// Sent with a delay that has not passed yet.
    pub delayed: u64,
}

impl QueueDepth {
    /// Messages that will still be delivered without anyone's help.
    pub fn pending(&self) -> u64 {
        self.waiting + self.delayed
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Refused for what it is (too large, a delay too long): sending it again will not help.
    #[error("message rejected: {0}")]
    Rejected(String),
    /// Some messages were not taken after retries: worth sending again later.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// An SQS call failed; its class says whether retrying can help.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl QueueError {
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Aws(e) => e.is_transient(),
            Self::Rejected(_) => false,
        }
    }

    /// The error a task ends with when its message cannot be sent for good
    /// (a queue missing or denied); `None` when sending again may work.
    pub fn task_error(&self) -> Option<TaskError> {
        match self {
            Self::Aws(e) if !e.is_transient() => Some(super::task_store::configuration_error(e)),
            Self::Rejected(reason) => Some(TaskError::new(CONFIGURATION_ERROR, reason.clone())),
            _ => None,
        }
    }
}

#[async_trait]
pub trait QueueSender: Send + Sync {
    /// Sends every message or returns an error; batching is the adapter's business.
    async fn send(&self, queue_url: &str, messages: Vec<OutgoingMessage>)
    -> Result<(), QueueError>;

    /// Messages waiting (visible), in flight (received, not yet deleted) and delayed.
    async fn depth(&self, queue_url: &str) -> Result<QueueDepth, QueueError>;

    /// Hides received messages (by their receipt handles) for `seconds`
    /// from now, in place of what the queue's visibility timeout left them:
    /// a message whose handler dies comes back then.
    async fn hide_for(
        &self,
        queue_url: &str,
        receipts: &[String],
        seconds: u32,
    ) -> Result<(), QueueError>;
}
