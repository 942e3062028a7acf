//! The orchestrator step waiting on a task: Step Functions' callback pattern
//! (`.waitForTaskToken`). The request carries the step's task token; tel
//! answers it when the task ends (`SendTaskSuccess`, `SendTaskFailure`) and
//! tells it the task is alive meanwhile (`SendTaskHeartbeat`).
//!
//! The token is a bearer credential for the step: whoever holds it can end
//! the step. It is kept with the task and nowhere else: never in a log line,
//! an event, an error or an API response (`Debug` hides it).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::task::{TaskInstance, TaskStatus};
use super::task_error::{CANCELLED, TaskError};

/// Step Functions' limit on a task token's length.
pub const MAX_TASK_TOKEN_CHARS: usize = 2048;
/// The most output `SendTaskSuccess` takes (256 KiB of UTF-8).
pub const MAX_CALLBACK_OUTPUT_BYTES: usize = 256 * 1024;
/// The most of `cause` `SendTaskFailure` takes.
pub const MAX_CAUSE_CHARS: usize = 32_768;
/// The most of `error` `SendTaskFailure` takes.
pub const MAX_ERROR_CHARS: usize = 256;

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    pub task_token: String,
    /// How often the step hears that the task is alive while it is unfinished.
    pub heartbeat_seconds: u32,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("task_token", &"<redacted>")
            .field("heartbeat_seconds", &self.heartbeat_seconds)
            .finish()
    }
}

/// Checks a token as the request gave it.
pub fn check_task_token(token: &str) -> Result<(), String> {
    if token.trim().is_empty() {
        Err("must be a non-empty string (the state's $$.Task.Token)".to_owned())
    } else if token.chars().count() > MAX_TASK_TOKEN_CHARS {
        Err(format!("must be at most {MAX_TASK_TOKEN_CHARS} characters"))
    } else {
        Ok(())
    }
}

/// What the waiting step is told when a task ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `SendTaskSuccess` with this output (JSON text).
    Success { output: String },
    /// `SendTaskFailure`: `error` is tel's error code (what a `Catch` or
    /// `Retry` matches on), `cause` the error as JSON text.
    Failure { error: String, cause: String },
}

impl Outcome {
    /// How `task`, ended, answers its step. `output` is the task's output
    /// (loaded from the payload bucket when stored there, `None` when it
    /// could not be); one larger than Step Functions takes is replaced by
    /// where it is (`outputRef`). `None` while the task is unfinished.
    pub fn of(task: &TaskInstance, output: Option<&Value>) -> Option<Self> {
        match task.status {
            TaskStatus::Completed => {
                let inline = output.map(Value::to_string);
                let output = match inline {
                    Some(text) if text.len() <= MAX_CALLBACK_OUTPUT_BYTES => text,
                    None if task.output_ref.is_none() => Value::Null.to_string(),
                    // Too large for Step Functions (or not readable now):
                    // where it is, to be fetched from there or the API.
                    _ => json!({
                        "taskInstanceId": task.task_instance_id,
                        "outputRef": task.output_ref,
                        "outputTooLarge": true,
                    })
                    .to_string(),
                };
                Some(Self::Success { output })
            }
            TaskStatus::Failed | TaskStatus::TimedOut | TaskStatus::Cancelled => {
                let error = task.error.clone().unwrap_or_else(|| cancellation(task));
                Some(Self::failure(&error, task))
            }
            _ => None,
        }
    }

    fn failure(error: &TaskError, task: &TaskInstance) -> Self {
        let mut cause = json!({
            "code": error.code,
            "message": error.message,
            "details": error.details,
            "taskInstanceId": task.task_instance_id,
        });
        if cause.to_string().chars().count() > MAX_CAUSE_CHARS {
            cause["details"] = json!({ "omitted": "too large for SendTaskFailure; read the task" });
        }
        Self::Failure {
            error: error.code.chars().take(MAX_ERROR_CHARS).collect(),
            cause: cause.to_string(),
        }
    }
}

/// The error of a task that was cancelled (it carries none of its own): the
/// reason given, from its last history entry.
fn cancellation(task: &TaskInstance) -> TaskError {
    let reason = task
        .history
        .last()
        .and_then(|entry| entry.details.get("reason"))
        .and_then(Value::as_str)
        .unwrap_or("the task was cancelled");
    TaskError::new(CANCELLED, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token() {
        let callback = Callback {
            task_token: "secret-token".into(),
            heartbeat_seconds: 60,
        };
        assert!(!format!("{callback:?}").contains("secret-token"));
    }

    fn ended(status: TaskStatus) -> TaskInstance {
        let mut creation = crate::domain::Creation::new(
            crate::domain::NewTask::of_step(("double", 1), "wf", "s", json!({})),
            chrono::Utc::now(),
            chrono::Utc::now(),
        );
        creation.task.status = status;
        creation.task
    }

    #[test]
    fn a_completed_task_answers_with_its_output_or_where_it_is() {
        let task = ended(TaskStatus::Completed);
        assert_eq!(
            Outcome::of(&task, Some(&json!({"n": 2}))),
            Some(Outcome::Success {
                output: r#"{"n":2}"#.into()
            })
        );
        let big = json!("x".repeat(MAX_CALLBACK_OUTPUT_BYTES));
        let Some(Outcome::Success { output }) = Outcome::of(&task, Some(&big)) else {
            panic!("a success")
        };
        assert!(output.contains("outputTooLarge"), "{output}");
        assert!(Outcome::of(&ended(TaskStatus::Running), None).is_none());
    }

    #[test]
    fn an_ended_task_fails_its_step_with_its_error_code() {
        let mut task = ended(TaskStatus::Failed);
        task.error = Some(TaskError::new(
            "VALIDATION_ERROR",
            "input.n must be a number",
        ));
        let Some(Outcome::Failure { error, cause }) = Outcome::of(&task, None) else {
            panic!("a failure")
        };
        assert_eq!(error, "VALIDATION_ERROR");
        let cause: Value = serde_json::from_str(&cause).unwrap();
        assert_eq!(cause["message"], "input.n must be a number");
        let cancelled = ended(TaskStatus::Cancelled);
        let Some(Outcome::Failure { error, .. }) = Outcome::of(&cancelled, None) else {
            panic!("a failure")
        };
        assert_eq!(error, CANCELLED);
    }

    #[test]
    fn tokens_are_checked_for_presence_and_length() {
        assert!(check_task_token("AQB8").is_ok());
        assert!(check_task_token(" ").is_err());
        assert!(check_task_token(&"x".repeat(MAX_TASK_TOKEN_CHARS + 1)).is_err());
    }
}
