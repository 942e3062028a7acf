//! Lifecycle events published on the bus (source `task-execution-layer`).
//! `task.completed` and `task.failed` are how the orchestrator hears back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::manual::AssigneeType;
use super::task::{TaskInstance, TaskStatus};
use super::task_error::TaskError;

pub const EVENT_SOURCE: &str = "task-execution-layer";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "task.created")]
    Created,
    #[serde(rename = "task.started")]
    Started,
    #[serde(rename = "task.completed")]
    Completed,
    #[serde(rename = "task.failed")]
    Failed,
    #[serde(rename = "task.retry_scheduled")]
    RetryScheduled,
    #[serde(rename = "task.assigned")]
    Assigned,
    #[serde(rename = "task.claimed")]
    Claimed,
    #[serde(rename = "task.unclaimed")]
    Unclaimed,
    #[serde(rename = "task.reminder")]
    Reminder,
    #[serde(rename = "task.escalated")]
    Escalated,
    #[serde(rename = "task.timed_out")]
    TimedOut,
    #[serde(rename = "task.cancelled")]
    Cancelled,
}

impl EventType {
    /// The EventBridge detail-type.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Created => "task.created",
            Self::Started => "task.started",
            Self::Completed => "task.completed",
            Self::Failed => "task.failed",
            Self::RetryScheduled => "task.retry_scheduled",
            Self::Assigned => "task.assigned",
            Self::Claimed => "task.claimed",
            Self::Unclaimed => "task.unclaimed",
            Self::Reminder => "task.reminder",
            Self::Escalated => "task.escalated",
            Self::TimedOut => "task.timed_out",
            Self::Cancelled => "task.cancelled",
        }
    }
}

/// The `detail` of a lifecycle event. Common fields first; the rest are set
/// by the event types they belong to. `eventId` is stable across re-publishing,
/// so consumers can de-duplicate on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskEvent {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub task_instance_id: String,
    pub workflow_instance_id: String,
    pub step_id: String,
    pub definition: String,
    pub status: TaskStatus,
    pub attempt: u32,
    pub occurred_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_type: Option<AssigneeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl TaskEvent {
    /// An event of `event_type` about `task` as it is now; callers add the
    /// type-specific fields.
    pub fn about(event_type: EventType, task: &TaskInstance, now: DateTime<Utc>) -> Self {
        Self {
            event_id: uuid::Uuid::now_v7().to_string(),
            event_type,
            task_instance_id: task.task_instance_id.to_string(),
            workflow_instance_id: task.workflow_instance_id.clone(),
            step_id: task.step_id.clone(),
            definition: task.definition_ref(),
            status: task.status,
            attempt: task.attempt,
            occurred_at: now,
            output: None,
            error: None,
            attempts: None,
            duration_ms: None,
            assignee_type: None,
            assignee_id: None,
            completed_by: None,
            retry_at: None,
            reason: None,
            trace_id: task.trace_id.clone(),
        }
    }

    pub fn detail_type(&self) -> &'static str {
        self.event_type.as_str()
    }
}
