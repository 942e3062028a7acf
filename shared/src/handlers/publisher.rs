//! publisher (the table's change stream): turns each task write into the
//! lifecycle events its new history entries announce, and puts them on the
//! bus. Events are derived from what was stored, so none is lost when a
//! function dies after its write, and each keeps its id however often it is
//! published (the stream delivers at least once).
//!
//! In AWS a Lambda function reads the stream (with a filter that passes only
//! task items); locally the runner reads it the same way
//! (`local::stream_reader`); in process the in-memory store's change log is fed
//! straight in.

use std::sync::Arc;

use tracing::{error, info, warn};

use crate::adapters::dynamo::stream::StreamRecord;
use crate::domain::events_of;
use crate::ports::{BusEvent, EventPublisher, PublishError, TaskChange};

pub struct ChangePublisher {
    publisher: Arc<dyn EventPublisher>,
}

/// What a batch left unpublished: the position to resume from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("events from change {sequence} on were not published: {reason}")]
pub struct Unpublished {
    /// The sequence number of the first change whose events are not all on
    /// the bus; it and every later change of the batch are delivered again.
    pub sequence: String,
    pub reason: String,
}

impl ChangePublisher {
    pub fn new(publisher: Arc<dyn EventPublisher>) -> Self {
        Self { publisher }
    }

    /// Publishes the events of every change, in order. Events of one task
    /// keep their order on the bus only as far as EventBridge keeps any
    /// (consumers order by `occurredAt` and the task's version).
    pub async fn publish(&self, changes: &[TaskChange]) -> Result<usize, Unpublished> {
        let mut events = Vec::new();
        // For each event, the change it came from.
        let mut origin = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            for entry in change.new_entries() {
                for event in events_of(&change.task, entry) {
                    events.push(BusEvent::from(&event));
                    origin.push(i);
                }
            }
        }
        if events.is_empty() {
            return Ok(0);
        }
        match self.publisher.publish(&events).await {
            Ok(()) => Ok(events.len()),
            Err(PublishError::Unavailable {
                failed,
                message,
                source,
            }) => {
                let first = failed.iter().map(|&e| origin[e]).min().unwrap_or(0);
                match source {
                    // The bus is missing or denied: events wait in the stream (24 h) until it is fixed.
                    Some(e) => {
                        error!(failed = failed.len(), error = %e, code = "CONFIGURATION_ERROR", "events cannot be published with this deployment; the stream holds them")
                    }
                    None => {
                        warn!(failed = failed.len(), %message, "events not published; the stream delivers them again")
                    }
                }
                Err(Unpublished {
                    sequence: changes[first].sequence.clone(),
                    reason: message,
                })
            }
            Err(PublishError::Rejected(reason)) => {
                // Too large for the bus, whatever we do: retrying would hold the
                // stream forever. The task itself is stored; say what was lost.
                warn!(%reason, changes = changes.len(), "events refused by the bus and dropped");
                Ok(0)
            }
        }
    }
}

/// Reads stream records as task changes (skipping other items, and logging
/// any record that does not read as a task: one bad record must not hold the
/// stream) and publishes their events.
pub async fn publish_records(
    publisher: &ChangePublisher,
    records: &[StreamRecord],
) -> Result<usize, Unpublished> {
    let changes: Vec<TaskChange> = records
        .iter()
        .filter_map(StreamRecord::task_change)
        .filter_map(|change| {
            change
                .map_err(|e| error!(error = %e, "unreadable task change skipped"))
                .ok()
        })
        .collect();
    let published = publisher.publish(&changes).await?;
    if published > 0 {
        info!(records = records.len(), published, "events published");
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::RecordingPublisher;
    use crate::domain::{Action, Creation, NewTask, TaskInstanceId, transition};
    use chrono::Utc;
    use serde_json::json;

    fn change(
        sequence: &str,
        previous_version: u64,
        task: &crate::domain::TaskInstance,
    ) -> TaskChange {
        TaskChange {
            sequence: sequence.into(),
            previous_version,
            task: task.clone(),
        }
    }

    #[tokio::test]
    async fn each_write_announces_only_its_own_entries_with_stable_ids() {
        let now = Utc::now();
        let new = NewTask {
            task_instance_id: TaskInstanceId::new(),
            definition_name: "double".into(),
            definition_version: 1,
            task_type: None,
            workflow_instance_id: "wf".into(),
            step_id: "s".into(),
            input: json!({}),
            context: serde_json::Value::Null,
            priority: 0,
            trace_id: None,
            requested_by: None,
        };
        let created = Creation::new(new, now, now);
        let started = transition(&created.task, Action::Start { lease_until: now }, now).unwrap();
        let recording = Arc::new(RecordingPublisher::default());
        let publisher = ChangePublisher::new(recording.clone());
        let changes = [change("1", 0, &created.task), change("2", 1, &started.task)];
        assert_eq!(publisher.publish(&changes).await, Ok(2));
        let first = recording.take();
        let types: Vec<&str> = first.iter().map(|e| e.detail_type.as_str()).collect();
        assert_eq!(types, ["task.created", "task.started"]);
        // Delivered again (at least once): the same events, the same ids.
        publisher.publish(&changes).await.unwrap();
        assert_eq!(recording.take(), first);
        let ids: Vec<String> = created
            .events
            .iter()
            .chain(&started.events)
            .map(|e| e.event_id.clone())
            .collect();
        let published: Vec<String> = first
            .iter()
            .map(|e| {
                serde_json::from_str::<serde_json::Value>(&e.detail).unwrap()["eventId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            published, ids,
            "what the bus gets is what the transition planned"
        );
    }
}
