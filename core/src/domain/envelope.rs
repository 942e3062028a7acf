//! The small message the work queues carry (payloads stay in DynamoDB), and
//! which stage a task in a given status waits on.

use serde::{Deserialize, Serialize};

use super::ids::TaskInstanceId;
use super::status::TaskStatus;
use super::task_type::TaskType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// Validate the input (validate queue).
    Input,
    /// Run an attempt (execute queue); the output is validated in the same step.
    Execute,
    /// Assign a manual task (manual queue).
    Assign,
}

impl Stage {
    /// The stage a task in `status` waits on, if it waits on a queue at all:
    /// the one mapping from status to stage, for transitions and the sweeper.
    /// (Manual tasks are never QUEUED: they go from CREATED to ASSIGNED.)
    pub fn awaited_by(status: TaskStatus) -> Option<Stage> {
        match status {
            TaskStatus::Created => Some(Stage::Input),
            TaskStatus::Queued => Some(Stage::Execute),
            _ => None,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl Envelope {
    pub fn parse(body: &str) -> Result<Self, String> {
        serde_json::from_str(body).map_err(|e| format!("not a task envelope: {e}"))
    }

    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serialises")
    }
}
