//! The small message the work queues carry (payloads stay in DynamoDB), and
//! which stage a task in a given status waits on.

use serde::{Deserialize, Serialize};

use super::ids::TaskInstanceId;
use super::status::TaskStatus;
use super::task::TaskInstance;
use super::task_type::TaskType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// Validate the input (validate queue).
    Input,
    /// Run an attempt (execute queue); the output is validated in the same
    /// step, and a CREATED task's input before it.
    Execute,
    /// Assign a manual task (manual queue).
    Assign,
}

impl Stage {
    /// The stage a task in `status` waits on, if it waits on a queue at all:
    /// the one mapping from status to stage, for transitions and the sweeper.
    /// (Manual tasks are never QUEUED: they go from CREATED to ASSIGNED.)
    pub fn awaited_by(status: TaskStatus, task_type: Option<TaskType>) -> Option<Stage> {
        match status {
            TaskStatus::Created => Some(Stage::first(task_type)),
            TaskStatus::Queued => Some(Stage::Execute),
            _ => None,
        }
    }

    /// A new run's first stage. An automated or integration task goes
    /// straight to its executor, which checks the input before the first
    /// attempt: a message, a read and an invocation fewer than a stage of
    /// its own (docs/cost.md). A manual task's input is checked on its own,
    /// before anyone is assigned; so is one of an unknown type.
    pub fn first(task_type: Option<TaskType>) -> Stage {
        match task_type {
            Some(TaskType::Automated | TaskType::Integration) => Stage::Execute,
            Some(TaskType::Manual) | None => Stage::Input,
        }
    }

    /// Where a task goes once its input is valid.
    pub fn after_input(task_type: Option<TaskType>) -> Stage {
        match task_type {
            Some(TaskType::Manual) => Stage::Assign,
            _ => Stage::Execute,
        }
    }
}

/// A stage message a transition asks for: which stage, and how long it waits on the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispatch {
    pub stage: Stage,
    pub delay_seconds: u32,
}

impl Dispatch {
    pub fn now(stage: Stage) -> Self {
        Self {
            stage,
            delay_seconds: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub task_instance_id: TaskInstanceId,
    pub stage: Stage,
    /// Attempts started when the message was sent: lets the executor drop
    /// messages of an attempt that is already over.
    pub attempt: u32,
    /// Which run of the task the message belongs to (`TaskInstance::run`):
    /// a rerun or a replay starts the attempts at 0 again, so the attempt
    /// alone would let a message from before it run the new input before it
    /// is validated. Only those two start a run: a message re-sent by the
    /// sweeper leaves the one before it current (whichever comes first does
    /// the work), so a queue slower than the re-send cannot starve a task.
    /// Absent in messages sent before the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl Envelope {
    pub fn parse(body: &str) -> Result<Self, String> {
        serde_json::from_str(body).map_err(|e| format!("not a task envelope: {e}"))
    }

    /// Whether the task still waits on this message: in the status its stage
    /// serves, and (for an attempt) at the attempt the message was sent for.
    /// A message that is not current is a duplicate or a late one: its work
    /// was done, or the task moved on, and it is dropped.
    pub fn is_current_for(&self, task: &TaskInstance) -> bool {
        if self.run.is_some_and(|run| run != task.run()) {
            return false;
        }
        match self.stage {
            // A manual task stays CREATED until it is assigned.
            Stage::Input | Stage::Assign => task.status == TaskStatus::Created,
            Stage::Execute => {
                matches!(task.status, TaskStatus::Created | TaskStatus::Queued)
                    && task.attempt == self.attempt
            }
        }
    }

    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(status: TaskStatus, attempt: u32) -> TaskInstance {
        serde_json::from_value(serde_json::json!({
            "taskInstanceId": "0198c7d2-6d4a-7d2e-9c1a-2b3c4d5e6f70",
            "workflowInstanceId": "wf", "stepId": "s",
            "definitionName": "d", "definitionVersion": 1,
            "status": status, "input": {}, "attempt": attempt, "version": 1,
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z",
        }))
        .unwrap()
    }

    fn envelope(stage: Stage, attempt: u32) -> Envelope {
        Envelope {
            task_instance_id: task(TaskStatus::Created, 0).task_instance_id,
            stage,
            attempt,
            run: None,
            trace_id: None,
        }
    }

    /// A message names the run it belongs to; a rerun (CREATED at attempt 0
    /// again) no longer waits on a message of the run before, while the
    /// sweeper's re-send (a new version, the same run) leaves it current.
    #[test]
    fn a_message_of_the_run_before_a_rerun_is_not_current() {
        let mut task = task(TaskStatus::Created, 0);
        let sent = |run| Envelope {
            run,
            ..envelope(Stage::Execute, 0)
        };
        assert!(sent(Some(0)).is_current_for(&task));
        let entry = |action: &str, version| crate::domain::HistoryEntry {
            version,
            at: task.created_at,
            action: action.to_owned(),
            from: None,
            to: TaskStatus::Created,
            attempt: 0,
            actor: None,
            attempt_started_at: None,
            duration_ms: None,
            outcome: None,
            details: serde_json::Value::Null,
        };
        task.history.push(entry("redelivered", 2));
        task.version = 2;
        assert!(
            sent(Some(0)).is_current_for(&task),
            "a re-send is the same run"
        );
        task.history.push(entry("failed", 3));
        task.history.push(entry("rerun", 4));
        task.version = 4;
        assert_eq!(task.run(), 1);
        assert!(!sent(Some(0)).is_current_for(&task));
        assert!(sent(Some(1)).is_current_for(&task));
        task.history.push(entry("replayed", 5));
        assert_eq!(task.run(), 2);
        assert!(
            sent(None).is_current_for(&task),
            "a message from before the field"
        );
        let body = sent(Some(2)).to_body();
        assert_eq!(Envelope::parse(&body).unwrap().run, Some(2));
        let old = r#"{"taskInstanceId":"0198c7d2-6d4a-7d2e-9c1a-2b3c4d5e6f70","stage":"execute","attempt":0}"#;
        assert_eq!(Envelope::parse(old).unwrap().run, None);
    }

    #[test]
    fn a_message_is_current_only_while_its_task_waits_on_it() {
        use TaskStatus::*;
        let cases = [
            (Stage::Input, 0, Created, 0, true),
            (Stage::Input, 0, Queued, 0, false),
            (Stage::Assign, 0, Created, 0, true),
            (Stage::Assign, 0, Assigned, 0, false),
            (Stage::Execute, 0, Created, 0, true),
            (Stage::Execute, 1, Queued, 1, true),
            // The attempt it was sent for is over: a late or duplicate message.
            (Stage::Execute, 0, Queued, 1, false),
            (Stage::Execute, 1, Running, 1, false),
            (Stage::Execute, 1, Completed, 1, false),
        ];
        for (stage, sent_at, status, attempt, current) in cases {
            assert_eq!(
                envelope(stage, sent_at).is_current_for(&task(status, attempt)),
                current,
                "{stage:?} sent at attempt {sent_at}, task {status} at attempt {attempt}"
            );
        }
    }
}
