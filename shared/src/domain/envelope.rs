//! The small message the work queues carry. Payloads stay in DynamoDB.

use serde::{Deserialize, Serialize};

use super::ids::TaskInstanceId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// Validate the input (validate queue).
    Input,
    /// Run an attempt (execute queue).
    Execute,
    /// Validate the output of an attempt (validate queue).
    Output,
    /// Assign a manual task (manual queue).
    Assign,
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
