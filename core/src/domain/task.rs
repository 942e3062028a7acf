//! Task instances: one run of one step of one workflow instance.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::callback::Callback;
use super::deadline::DeadlineKind;
use super::event_mode::EventMode;
use super::history::{HistoryEntry, REPLAYED, RERUN};
use super::ids::TaskInstanceId;
use super::manual::{Assignee, ManualProgress};
use super::payload::{PayloadField, PayloadRef};
use super::status::TaskStatus;
use super::task_error::TaskError;
use super::task_type::TaskType;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInstance {
    pub task_instance_id: TaskInstanceId,
    /// The definition's name as requested (kept even when it named nothing).
    pub definition_name: String,
    /// The resolved version; 0 when the definition could not be resolved.
    pub definition_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_type: Option<TaskType>,
    pub workflow_instance_id: String,
    pub step_id: String,
    pub status: TaskStatus,
    #[serde(default)]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    /// Where a payload too large to keep inline lives. With a reference, the
    /// inline field is the payload once loaded (`TaskEngine::load_payloads`)
    /// and null before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_ref: Option<PayloadRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_ref: Option<PayloadRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_ref: Option<PayloadRef>,
    /// Attempts started so far.
    pub attempt: u32,
    #[serde(default)]
    pub priority: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Assignee>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// The first attempt must start by then (`scheduleToStartSeconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_by: Option<DateTime<Utc>>,
    /// The task must finish by then, whatever the attempts (`scheduleToCloseSeconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_by: Option<DateTime<Utc>>,
    /// Reminder and escalation progress of a manual task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualProgress>,
    /// Pending deadlines; empty means the task is not in the deadline index.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deadlines: BTreeMap<DeadlineKind, DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Who started the task: `user:<sub>` (the API) or `iam:<principal id>`
    /// (the requests queue, which IAM guards). They may read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// The sortable keys of the definition's searchable fields, taken at
    /// assignment (`search::keys_of`): what the inbox's search finds it by.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub search_keys: BTreeMap<String, String>,
    /// Which of its events the publisher puts on the bus (its definition's `events`).
    #[serde(default, skip_serializing_if = "EventMode::is_all")]
    pub event_mode: EventMode,
    /// Bumped by every transition; transitions are conditional on it.
    pub version: u64,
    /// One entry per transition, oldest first. Stored with the task (one
    /// write per transition), served by the history endpoint, not inline.
    #[serde(skip)]
    pub history: Vec<HistoryEntry>,
    /// When the sweeper next looks at the task: never after its earliest
    /// deadline, but it may be earlier (see `schedule_wake`).
    #[serde(skip)]
    pub wake_at: Option<DateTime<Utc>>,
    /// The orchestrator step waiting on the task, if one is. Stored with the
    /// task, never serialised with it (its token is a credential).
    #[serde(skip)]
    pub callback: Option<Callback>,
}

impl TaskInstance {
    /// The definition as `name:version`.
    pub fn definition_ref(&self) -> String {
        format!("{}:{}", self.definition_name, self.definition_version)
    }

    /// Adds the deadlines that outlive any one status while the task is
    /// unfinished: the whole-task budgets, and the next heartbeat to a
    /// waiting step (kept at `heartbeat_at` if one is set already, else one
    /// interval after `now`).
    pub fn apply_standing_deadlines(
        &mut self,
        heartbeat_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) {
        if self.status.is_terminal() {
            return;
        }
        if let Some(callback) = &self.callback {
            let at = heartbeat_at.unwrap_or_else(|| {
                now + chrono::Duration::seconds(i64::from(callback.heartbeat_seconds))
            });
            self.deadlines.insert(DeadlineKind::Heartbeat, at);
        }
        if let Some(close_by) = self.close_by {
            self.deadlines.insert(DeadlineKind::CloseBy, close_by);
        }
        if let Some(start_by) = self.start_by
            && self.attempt == 0
            && matches!(self.status, TaskStatus::Created | TaskStatus::Queued)
        {
            self.deadlines.insert(DeadlineKind::StartBy, start_by);
        }
    }

    /// A payload and where it lives, if elsewhere.
    pub fn payload(&self, field: PayloadField) -> (&Value, &Option<PayloadRef>) {
        match field {
            PayloadField::Input => (&self.input, &self.input_ref),
            PayloadField::Context => (&self.context, &self.context_ref),
            PayloadField::Output => (
                self.output.as_ref().unwrap_or(&Value::Null),
                &self.output_ref,
            ),
        }
    }

    /// Sets a payload as loaded, or as stored elsewhere.
    pub fn set_payload(&mut self, field: PayloadField, value: Value, at: Option<PayloadRef>) {
        match field {
            PayloadField::Input => (self.input, self.input_ref) = (value, at),
            PayloadField::Context => (self.context, self.context_ref) = (value, at),
            PayloadField::Output => {
                self.output = (!value.is_null()).then_some(value);
                self.output_ref = at;
            }
        }
    }

    /// Which run of the task this is: 0, and one more for each rerun or
    /// replay (they start the attempts again). Stage messages name it.
    pub fn run(&self) -> u32 {
        self.history
            .iter()
            .filter(|entry| [RERUN, REPLAYED].contains(&entry.action.as_str()))
            .count() as u32
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&self) -> Option<(DeadlineKind, DateTime<Utc>)> {
        self.deadlines
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(kind, at)| (*kind, *at))
    }

    /// Sets when the sweeper looks at the task next, after a transition from
    /// `before`. A wake-up already set earlier than the new earliest deadline is
    /// kept: moving it would cost a write to the deadline index on every
    /// transition, while most tasks finish before it comes (a short task is put
    /// in the index once, when created, and taken out once, when it ends). The
    /// sweeper, woken early, only moves the wake-up to the real deadline.
    /// A task with no deadline (a finished one) leaves the index.
    pub fn schedule_wake(&mut self, before: Option<DateTime<Utc>>) {
        self.wake_at = self.next_deadline().map(|(_, at)| match before {
            Some(earlier) if earlier <= at => earlier,
            _ => at,
        });
    }
}

#[cfg(test)]
impl TaskInstance {
    /// A task of definition `double` in `status`, made now, with no history
    /// and no deadlines (the domain's unit tests move it on).
    pub(crate) fn sample(status: TaskStatus) -> Self {
        let now = Utc::now();
        let new =
            super::creation::NewTask::of_step(("double", 1), "wf-1", "s1", serde_json::json!({}));
        let mut task = super::creation::Creation::new(new, now, now).task;
        task.status = status;
        task.history.clear();
        task.deadlines.clear();
        task.wake_at = None;
        task
    }
}
