use async_trait::async_trait;

use super::AwsError;
use crate::domain::{CircuitEvent, EVENT_SOURCE, TaskEvent};

/// One event for the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    pub source: String,
    pub detail_type: String,
    pub detail: String,
}

impl From<&CircuitEvent> for BusEvent {
    fn from(event: &CircuitEvent) -> Self {
        Self {
            source: EVENT_SOURCE.to_owned(),
            detail_type: event.change.detail_type().to_owned(),
            detail: serde_json::to_string(event).expect("events always serialise"),
        }
    }
}

impl From<&TaskEvent> for BusEvent {
    fn from(event: &TaskEvent) -> Self {
        Self {
            source: EVENT_SOURCE.to_owned(),
            detail_type: event.detail_type().to_owned(),
            detail: serde_json::to_string(event).expect("events always serialise"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Too large for the bus, or otherwise refused for what it is: retrying will not help.
    #[error("event rejected: {0}")]
    Rejected(String),
    /// Some events were not accepted after retries (throttled, the service
    /// unavailable); the indexes are into the input. Delivering them again
    /// later may work.
    #[error("{} event(s) not published: {message}", failed.len())]
    Unavailable { failed: Vec<usize>, message: String },
    /// The bus is missing or this deployment may not put events on it: a
    /// configuration error that no retry mends until the deployment is fixed.
    /// The indexes are into the input (every event from the refusal on).
    #[error("{} event(s) not published: the bus refused this deployment", failed.len())]
    BusRefused {
        failed: Vec<usize>,
        #[source]
        source: AwsError,
    },
}

#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError>;
}
