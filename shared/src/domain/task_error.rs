//! The error a task ends with: a stable code, a message for people, and details
//! for machines. Codes are strings so integrations can add their own.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const VALIDATION_ERROR: &str = "VALIDATION_ERROR";
pub const OUTPUT_VALIDATION_ERROR: &str = "OUTPUT_VALIDATION_ERROR";
pub const EXECUTION_ERROR: &str = "EXECUTION_ERROR";
pub const TIMEOUT: &str = "TIMEOUT";
pub const INTEGRATION_ERROR: &str = "INTEGRATION_ERROR";
pub const UNKNOWN_DEFINITION: &str = "UNKNOWN_DEFINITION";
pub const PERMISSION_DENIED: &str = "PERMISSION_DENIED";
pub const MEMORY_LIMIT: &str = "MEMORY_LIMIT";
pub const CANCELLED: &str = "CANCELLED";
pub const ASSIGNMENT_ERROR: &str = "ASSIGNMENT_ERROR";
/// A queue message about the task kept failing and went to the dead-letter queue.
pub const POISON_MESSAGE: &str = "POISON_MESSAGE";
/// A request or response mapping (JMESPath) could not be applied.
pub const MAPPING_ERROR: &str = "MAPPING_ERROR";
/// A payload (input, context, output) or a task's record over a limit.
pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
/// The deployment is wrong: a table, queue, bus or bucket missing or denied.
pub const CONFIGURATION_ERROR: &str = "CONFIGURATION_ERROR";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskError {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl TaskError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}
