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

/// Longest message kept: an error travels in the task's record, its history
/// and its events, and a script may throw anything.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// Most entries of a list in `details` (every schema violation of a large
/// document, say) kept; the count of the rest is said.
pub const MAX_DETAIL_ITEMS: usize = 100;

impl TaskError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        let mut message: String = message.into();
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            let rest = message[cut..].chars().count();
            message.truncate(cut);
            message.push_str(&format!("… ({rest} more characters)"));
        }
        Self {
            code: code.to_owned(),
            message,
            details: Value::Null,
        }
    }

    pub fn with_details(mut self, mut details: Value) -> Self {
        if let Value::Object(fields) = &mut details {
            let mut counts = Vec::new();
            for (name, value) in fields.iter_mut() {
                if let Value::Array(items) = value
                    && items.len() > MAX_DETAIL_ITEMS
                {
                    counts.push((format!("{name}Omitted"), items.len() - MAX_DETAIL_ITEMS));
                    items.truncate(MAX_DETAIL_ITEMS);
                }
            }
            for (name, count) in counts {
                fields.insert(name, Value::from(count));
            }
        }
        self.details = details;
        self
    }
}

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_messages_and_lists_are_bounded_and_say_what_was_left_out() {
        let error = TaskError::new("X", "é".repeat(MAX_MESSAGE_CHARS + 5))
            .with_details(json!({ "errors": vec![1; MAX_DETAIL_ITEMS + 7], "small": [1, 2] }));
        assert!(error.message.ends_with("… (5 more characters)"));
        assert_eq!(
            error.details["errors"].as_array().unwrap().len(),
            MAX_DETAIL_ITEMS
        );
        assert_eq!(error.details["errorsOmitted"], 7);
        assert_eq!(error.details["small"], json!([1, 2]));
    }
}
