//! Bulk operations: one retry or cancel of every task a selection matches,
//! started by a person, run in the background in paced batches, resumed
//! where it stopped, and recorded task by task.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::access::Identity;
use super::status::TaskStatus;
use super::task::TaskInstance;

/// The statuses the operations index holds: those a bulk action acts on.
/// Every other task (every happy automated one among them) is in no
/// operations index entry, so no other write pays for it.
pub const OPERATION_STATUSES: [TaskStatus; 5] = [
    TaskStatus::Failed,
    TaskStatus::TimedOut,
    TaskStatus::RetryWait,
    TaskStatus::Assigned,
    TaskStatus::Claimed,
];

/// Tasks acted on between two saves of an operation's progress (what one
/// `BatchWriteItem` of outcomes holds).
pub const OPERATION_BATCH: usize = 25;

/// The pace an operation keeps when none is asked for, and the most it may ask.
pub const DEFAULT_RATE_PER_SECOND: u32 = 20;
/// The longest error code a selection names (it becomes part of an index key).
pub const MAX_ERROR_CODE_CHARS: usize = 256;
/// Operations running at once, in all and per definition: each shares the
/// sweeper's budget, and each sends its tasks to the shared queues.
pub const MAX_RUNNING: usize = 20;
pub const MAX_RUNNING_PER_DEFINITION: usize = 3;
pub const MAX_RATE_PER_SECOND: u32 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BulkAction {
    /// FAILED or TIMED_OUT tasks run again (`Action::Rerun`).
    Retry,
    /// Tasks waiting on a long retry or on a person are cancelled.
    Cancel,
}

impl BulkAction {
    /// The statuses this action applies to.
    pub fn statuses(self) -> &'static [TaskStatus] {
        match self {
            Self::Retry => &[TaskStatus::Failed, TaskStatus::TimedOut],
            Self::Cancel => &[
                TaskStatus::RetryWait,
                TaskStatus::Assigned,
                TaskStatus::Claimed,
            ],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Cancel => "cancel",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Retry, Self::Cancel]
            .into_iter()
            .find(|a| a.as_str() == text)
    }

    /// The history entry's action a task acted on by this carries.
    pub fn history_action(self) -> &'static str {
        match self {
            Self::Retry => "rerun",
            Self::Cancel => "cancelled",
        }
    }
}

/// Which tasks an operation acts on: one definition's tasks in some of the
/// action's statuses, optionally of one version and one error code, whose
/// time is in a range. A task's time is when it ended for a FAILED or
/// TIMED_OUT task, when it was created for one still open: both stay put
/// while the task waits, so its index entry is written once per status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    pub definition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    pub statuses: Vec<TaskStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Never later than when the operation started: a task that fails again
    /// after being retried by it is not selected a second time.
    pub until: DateTime<Utc>,
}

/// Why a selection cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("{action} does not apply to {status} tasks; it applies to {allowed}")]
    Status {
        action: &'static str,
        status: TaskStatus,
        allowed: String,
    },
    #[error("errorCode must be 1 to {MAX_ERROR_CODE_CHARS} characters without control characters")]
    ErrorCode,
}

impl Selection {
    /// The selection as `action` runs it: no statuses means all the
    /// action's, and `until` is at most `now`.
    pub fn for_action(
        mut self,
        action: BulkAction,
        now: DateTime<Utc>,
    ) -> Result<Self, SelectionError> {
        if self.statuses.is_empty() {
            self.statuses = action.statuses().to_vec();
        }
        self.statuses.sort_by_key(|s| s.as_str());
        self.statuses.dedup();
        if let Some(status) = self
            .statuses
            .iter()
            .find(|s| !action.statuses().contains(s))
        {
            return Err(SelectionError::Status {
                action: action.as_str(),
                status: *status,
                allowed: action
                    .statuses()
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if let Some(code) = &self.error_code
            && (code.is_empty()
                || code.chars().count() > MAX_ERROR_CODE_CHARS
                || code.chars().any(char::is_control))
        {
            return Err(SelectionError::ErrorCode);
        }
        // A `since` later than that selects nothing (it is no mistake to
        // ask for what failed since tomorrow: there is none).
        self.until = self.until.min(now);
        Ok(self)
    }

    /// Whether the time range holds nothing (`since` after `until`).
    pub fn is_empty_range(&self) -> bool {
        self.since.is_some_and(|since| since > self.until)
    }

    /// Whether an index entry with these parts is selected (the definition
    /// and status are its partition's).
    pub fn matches_entry(&self, entry: &IndexedTask) -> bool {
        self.statuses.contains(&entry.status)
            && self.version.is_none_or(|v| v == entry.version)
            && self
                .error_code
                .as_deref()
                .is_none_or(|code| entry.error_code.as_deref() == Some(code))
            && self.since.is_none_or(|since| entry.at >= since)
            && entry.at <= self.until
    }

    /// Whether the task, as read now, is still selected.
    pub fn matches(&self, task: &TaskInstance) -> bool {
        task.definition_name == self.definition
            && IndexedTask::of(task).is_some_and(|entry| self.matches_entry(&entry))
    }
}

/// What the operations index keeps of a task: enough to select it without
/// reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedTask {
    pub status: TaskStatus,
    pub error_code: Option<String>,
    pub at: DateTime<Utc>,
    pub version: u32,
}

impl IndexedTask {
    /// The task's entry, when its status is one operations act on.
    pub fn of(task: &TaskInstance) -> Option<Self> {
        if !OPERATION_STATUSES.contains(&task.status) {
            return None;
        }
        let at = if task.status.is_terminal() {
            task.finished_at.unwrap_or(task.updated_at)
        } else {
            task.created_at
        };
        Some(Self {
            status: task.status,
            error_code: task
                .error
                .as_ref()
                .filter(|_| task.status.is_terminal() || task.status == TaskStatus::RetryWait)
                .map(|e| e.code.clone()),
            at,
            version: task.definition_version,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationState {
    Running,
    /// Stopped by a person before it was through.
    Stopped,
    /// Every selected task acted on or skipped.
    Done,
    /// It could not go on (its starter lost the right to act, the
    /// definition is gone).
    Failed,
}

/// How far an operation has come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Tasks the selection found (and recorded before acting on them).
    pub selected: u64,
    /// Retried or cancelled by this operation.
    pub acted: u64,
    /// Found but no longer matching when acted on (someone moved them first).
    pub skipped: u64,
    /// The action was refused for good.
    pub failed: u64,
}

/// Who holds an operation's run: one runner at a time, until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    pub owner: String,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Starter {
    pub user: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub admin: bool,
}

impl From<&Identity> for Starter {
    fn from(identity: &Identity) -> Self {
        Self {
            user: identity.user.clone(),
            groups: identity.groups.clone(),
            admin: identity.admin,
        }
    }
}

impl Starter {
    pub fn identity(&self) -> Identity {
        Identity {
            user: self.user.clone(),
            groups: self.groups.clone(),
            admin: self.admin,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub operation_id: String,
    pub action: BulkAction,
    pub selection: Selection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub rate_per_second: u32,
    pub started_by: Starter,
    pub state: OperationState,
    pub progress: Progress,
    /// Where the selection goes on (the store's own cursor); none once read through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The selection has been read to its end.
    #[serde(default)]
    pub selected_all: bool,
    /// Tasks recorded as selected whose outcome is not recorded yet (at
    /// most a batch): a run that died between the two leaves them, and the
    /// next run settles them first, from this list alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingTask>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
    /// Guards every save: a runner or person holding an older copy loses.
    pub version: u64,
}

impl Operation {
    pub fn is_running(&self) -> bool {
        self.state == OperationState::Running
    }

    /// Whether a runner may take it at `now`: running, and nobody holds it.
    pub fn is_free(&self, now: DateTime<Utc>) -> bool {
        self.is_running() && self.lease.as_ref().is_none_or(|l| l.until <= now)
    }
}

/// A task a batch selected, as it was then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingTask {
    pub task_instance_id: super::ids::TaskInstanceId,
    pub task_version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TaskOutcomeKind {
    /// Recorded before acting: the task at `taskVersion` is about to be acted on.
    Selected,
    Retried,
    Cancelled,
    Skipped,
    Failed,
}

/// What an operation did to one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskOutcome {
    pub task_instance_id: super::ids::TaskInstanceId,
    pub outcome: TaskOutcomeKind,
    /// The task's version when it was selected.
    pub task_version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

impl TaskOutcome {
    /// A task recorded as selected, at `task_version`, before it is acted on.
    pub fn selected(
        task_instance_id: super::ids::TaskInstanceId,
        task_version: u64,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            task_instance_id,
            outcome: TaskOutcomeKind::Selected,
            task_version,
            detail: None,
            at,
        }
    }

    /// What came of this selected task.
    pub fn settled(
        &self,
        outcome: TaskOutcomeKind,
        detail: Option<&str>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            outcome,
            detail: detail.map(str::to_owned),
            at,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TaskError;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(s, 0).unwrap()
    }

    fn selection() -> Selection {
        Selection {
            definition: "charge".into(),
            version: None,
            statuses: vec![],
            error_code: Some("INTEGRATION_ERROR".into()),
            since: Some(at(100)),
            until: at(10_000),
        }
    }

    fn entry(status: TaskStatus, code: Option<&str>, time: i64) -> IndexedTask {
        IndexedTask {
            status,
            error_code: code.map(str::to_owned),
            at: at(time),
            version: 2,
        }
    }

    #[test]
    fn a_selection_takes_its_actions_statuses_and_ends_when_the_operation_starts() {
        let s = selection().for_action(BulkAction::Retry, at(500)).unwrap();
        assert_eq!(s.statuses, vec![TaskStatus::Failed, TaskStatus::TimedOut]);
        assert_eq!(s.until, at(500));
        let wrong = Selection {
            statuses: vec![TaskStatus::Completed],
            ..selection()
        };
        assert!(matches!(
            wrong.for_action(BulkAction::Retry, at(500)),
            Err(SelectionError::Status { .. })
        ));
        let empty = selection().for_action(BulkAction::Cancel, at(50)).unwrap();
        assert!(empty.is_empty_range());
        assert!(!empty.matches_entry(&entry(TaskStatus::Assigned, Some("INTEGRATION_ERROR"), 60)));
        let long = Selection {
            error_code: Some("E".repeat(MAX_ERROR_CODE_CHARS + 1)),
            ..selection()
        };
        assert_eq!(
            long.for_action(BulkAction::Retry, at(500)),
            Err(SelectionError::ErrorCode)
        );
    }

    #[test]
    fn entries_match_on_status_code_time_and_version() {
        let s = selection().for_action(BulkAction::Retry, at(500)).unwrap();
        assert!(s.matches_entry(&entry(TaskStatus::Failed, Some("INTEGRATION_ERROR"), 200)));
        assert!(!s.matches_entry(&entry(TaskStatus::Failed, Some("TIMEOUT"), 200)));
        assert!(!s.matches_entry(&entry(TaskStatus::Failed, None, 200)));
        assert!(!s.matches_entry(&entry(TaskStatus::Failed, Some("INTEGRATION_ERROR"), 99)));
        // Failed again after the operation started: not this operation's.
        assert!(!s.matches_entry(&entry(TaskStatus::Failed, Some("INTEGRATION_ERROR"), 501)));
        assert!(!s.matches_entry(&entry(
            TaskStatus::RetryWait,
            Some("INTEGRATION_ERROR"),
            200
        )));
        let v1 = Selection {
            version: Some(1),
            ..s
        };
        assert!(!v1.matches_entry(&entry(TaskStatus::Failed, Some("INTEGRATION_ERROR"), 200)));
    }

    #[test]
    fn an_open_tasks_time_is_its_creation_and_a_failed_ones_its_end() {
        let mut task: TaskInstance = serde_json::from_value(serde_json::json!({
            "taskInstanceId": "0190b4c8-0000-7000-8000-000000000001",
            "definitionName": "charge", "definitionVersion": 2,
            "workflowInstanceId": "wf", "stepId": "s", "status": "ASSIGNED", "attempt": 0, "version": 1,
            "createdAt": at(10), "updatedAt": at(20),
        }))
        .unwrap();
        assert_eq!(IndexedTask::of(&task).unwrap().at, at(10));
        task.status = TaskStatus::Failed;
        task.finished_at = Some(at(30));
        task.error = Some(TaskError::new("INTEGRATION_ERROR", "down"));
        let entry = IndexedTask::of(&task).unwrap();
        assert_eq!(
            (entry.at, entry.error_code.as_deref()),
            (at(30), Some("INTEGRATION_ERROR"))
        );
        task.status = TaskStatus::Completed;
        assert_eq!(IndexedTask::of(&task), None);
    }
}
