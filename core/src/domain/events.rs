//! Lifecycle events published on the bus (source `task-execution-layer`).
//! `task.completed` and `task.failed` are how the orchestrator hears back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::event_mode::EventMode;
use super::history::HistoryEntry;
use super::ids::TaskInstanceId;
use super::manual::{Assignee, AssigneeType};
use super::payload::PayloadRef;
use super::status::TaskStatus;
use super::task::TaskInstance;
use super::task_error::{TIMEOUT, TaskError};

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

/// The mode's rule, beside the event types it names.
impl EventMode {
    /// Whether an event of `kind` is published.
    pub fn publishes(&self, kind: EventType) -> bool {
        match self {
            Self::All => true,
            Self::Outcomes => matches!(
                kind,
                EventType::Completed | EventType::Failed | EventType::Cancelled
            ),
        }
    }
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        Self::Created,
        Self::Started,
        Self::Completed,
        Self::Failed,
        Self::RetryScheduled,
        Self::Assigned,
        Self::Claimed,
        Self::Unclaimed,
        Self::Reminder,
        Self::Escalated,
        Self::TimedOut,
        Self::Cancelled,
    ];

    /// The fields an event of this type always carries beyond the common
    /// ones (`events_of` sets them; the AsyncAPI document requires them).
    pub fn carries(&self) -> &'static [&'static str] {
        match self {
            Self::Completed => &["attempts", "durationMs"],
            Self::Failed => &["error", "attempts", "durationMs"],
            Self::RetryScheduled => &["error", "retryAt"],
            Self::Assigned | Self::Escalated | Self::Claimed => &["assigneeType", "assigneeId"],
            Self::TimedOut => &["error"],
            Self::Cancelled => &["reason"],
            Self::Created | Self::Started | Self::Unclaimed | Self::Reminder => &[],
        }
    }

    /// What the event announces, for people reading the contract.
    pub fn summary(&self) -> &'static str {
        match self {
            Self::Created => {
                "A task was recorded for an execution request; its input is being validated."
            }
            Self::Started => "An attempt started (an executor holds the task's lease).",
            Self::Completed => {
                "The task ended with an output (inline, or `outputRef` when it is in the payload bucket)."
            }
            Self::Failed => {
                "The task ended with an error: its `error.code` says why (VALIDATION_ERROR, TIMEOUT, …)."
            }
            Self::RetryScheduled => "An attempt failed and another is due at `retryAt`.",
            Self::Assigned => "A manual task was given to a user or a group.",
            Self::Claimed => "A person claimed a manual task.",
            Self::Unclaimed => "A person gave a claimed task back to its group.",
            Self::Reminder => "A manual task's reminder fell due.",
            Self::Escalated => "A manual task was escalated to its next assignee.",
            Self::TimedOut => {
                "An attempt, a budget or a manual task's due time ran out (`error.code` TIMEOUT)."
            }
            Self::Cancelled => {
                "The task was cancelled: by a person, or because the Step Functions step waiting on it is gone."
            }
        }
    }

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
    /// The output, when it is kept inline (small enough), …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// … else where it is (the claim check): fetch it from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_ref: Option<PayloadRef>,
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
    /// Who held the task until it was assigned again (assigned, escalated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_assignee_type: Option<AssigneeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_assignee_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Who asked for the task (`iam:<principal>`, `user:<sub>`): an
    /// orchestrator tells its own requests from anyone else's by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

impl TaskEvent {
    /// An event of `event_type` about `task` as `entry` left it; callers add
    /// the type-specific fields. The id is derived from the task, the entry's
    /// version and the event's place in it, so whoever publishes it (and
    /// however often) it keeps the same `eventId`.
    fn about(
        event_type: EventType,
        task: &TaskInstance,
        entry: &HistoryEntry,
        index: usize,
    ) -> Self {
        Self {
            event_id: event_id(task.task_instance_id, entry.version, index),
            event_type,
            task_instance_id: task.task_instance_id.to_string(),
            workflow_instance_id: task.workflow_instance_id.clone(),
            step_id: task.step_id.clone(),
            definition: task.definition_ref(),
            status: entry.to,
            attempt: entry.attempt,
            occurred_at: entry.at,
            output: None,
            output_ref: None,
            error: None,
            attempts: None,
            duration_ms: None,
            assignee_type: None,
            assignee_id: None,
            previous_assignee_type: None,
            previous_assignee_id: None,
            completed_by: None,
            retry_at: None,
            reason: None,
            trace_id: task.trace_id.clone(),
            requested_by: task.requested_by.clone(),
        }
    }

    pub fn detail_type(&self) -> &'static str {
        self.event_type.as_str()
    }
}

/// A stable event id: a UUID (version 8) from a hash of the task id, the
/// version its entry produced and the event's place among that entry's events.
pub fn event_id(task: TaskInstanceId, version: u64, index: usize) -> String {
    let digest = Sha256::digest(format!("{task}/{version}/{index}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::new_v8(bytes).to_string()
}

/// The lifecycle events one history entry announces, read off the task as the
/// write that added the entry left it. This is the only place events are made:
/// the state machine (for metrics) and the change-stream publisher (for the bus)
/// both call it, so what is announced is a function of what was stored.
pub fn events_of(task: &TaskInstance, entry: &HistoryEntry) -> Vec<TaskEvent> {
    let mut out = Announcement {
        task,
        entry,
        events: Vec::new(),
    };
    let error = entry_error(task, entry);
    let timed_out = error.as_ref().is_some_and(|e| e.code == TIMEOUT);
    let duration_ms = (entry.at - task.created_at).num_milliseconds();
    match entry.action.as_str() {
        "created" => {
            out.push(EventType::Created);
        }
        "started" => {
            out.push(EventType::Started);
        }
        "completed" => {
            let event = out.push(EventType::Completed);
            set_output(event, task);
            event.attempts = Some(entry.attempt);
            event.duration_ms = Some(duration_ms);
            event.completed_by = entry.actor.clone();
        }
        "retryScheduled" => {
            if timed_out {
                out.push(EventType::TimedOut).error = error.clone();
            }
            let event = out.push(EventType::RetryScheduled);
            event.retry_at = entry
                .details
                .get("retryAt")
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            event.error = error;
        }
        "failed" => {
            if timed_out {
                out.push(EventType::TimedOut).error = error.clone();
            }
            let event = out.push(EventType::Failed);
            event.error = error;
            event.attempts = Some(entry.attempt);
            event.duration_ms = Some(duration_ms);
        }
        "assigned" | "escalated" => {
            let kind = if entry.action == "escalated" {
                EventType::Escalated
            } else {
                EventType::Assigned
            };
            let assignee: Option<Assignee> = entry
                .details
                .get("assignee")
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            let previous: Option<Assignee> = entry
                .details
                .get("previousAssignee")
                .and_then(|v| serde_json::from_value(v.clone()).ok());
            let event = out.push(kind);
            event.assignee_type = assignee.as_ref().map(|a| a.kind);
            event.assignee_id = assignee.map(|a| a.id);
            event.previous_assignee_type = previous.as_ref().map(|a| a.kind);
            event.previous_assignee_id = previous.map(|a| a.id);
        }
        "reminded" | "unclaimed" => {
            let kind = if entry.action == "reminded" {
                EventType::Reminder
            } else {
                EventType::Unclaimed
            };
            let event = out.push(kind);
            event.assignee_type = task.assignee.as_ref().map(|a| a.kind);
            event.assignee_id = task.assignee.as_ref().map(|a| a.id.clone());
        }
        "claimed" => {
            let event = out.push(EventType::Claimed);
            event.assignee_type = Some(AssigneeType::User);
            event.assignee_id = entry.actor.clone();
        }
        "cancelled" => {
            out.push(EventType::Cancelled).reason = entry
                .details
                .get("reason")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        "timedOut" => {
            out.push(EventType::TimedOut).error = error.clone();
            let event = if entry.to == TaskStatus::Completed {
                let event = out.push(EventType::Completed);
                set_output(event, task);
                event
            } else {
                let event = out.push(EventType::Failed);
                event.error = error;
                event
            };
            event.attempts = Some(entry.attempt);
            event.duration_ms = Some(duration_ms);
        }
        _ => {}
    }
    out.events
}

/// The events of one entry, numbered as they are added.
struct Announcement<'a> {
    task: &'a TaskInstance,
    entry: &'a HistoryEntry,
    events: Vec<TaskEvent>,
}

impl Announcement<'_> {
    fn push(&mut self, kind: EventType) -> &mut TaskEvent {
        let event = TaskEvent::about(kind, self.task, self.entry, self.events.len());
        self.events.push(event);
        self.events.last_mut().expect("just pushed")
    }
}

/// The output inline when the task keeps it inline, else its reference.
fn set_output(event: &mut TaskEvent, task: &TaskInstance) {
    match &task.output_ref {
        Some(at) => event.output_ref = Some(at.clone()),
        None => event.output = task.output.clone(),
    }
}

/// The error an entry is about: the task's own (complete, with details) when
/// the entry is the task's latest, else the one the entry kept.
fn entry_error(task: &TaskInstance, entry: &HistoryEntry) -> Option<TaskError> {
    let kept = || {
        entry
            .details
            .get("error")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    };
    match &task.error {
        Some(error) if entry.version == task.version => Some(error.clone()),
        _ => kept(),
    }
}
