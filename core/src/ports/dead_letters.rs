use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;
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
