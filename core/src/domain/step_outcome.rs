//! What the orchestrator step waiting on a task is told when the task ends:
//! Step Functions' `SendTaskSuccess` or `SendTaskFailure`.

use serde_json::{Value, json};

use super::callback::{MAX_CALLBACK_OUTPUT_BYTES, MAX_CAUSE_CHARS, MAX_ERROR_CHARS};
use super::status::TaskStatus;
use super::task::TaskInstance;
use super::task_error::{CANCELLED, TaskError};

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
                // Asked for by the request: the output with the task and its trace.
                let enveloped = task.callback.as_ref().is_some_and(|c| c.envelope);
                let wrapped;
                let output = match output {
                    Some(output) if enveloped => {
                        wrapped = json!({
                            "output": output,
                            "taskInstanceId": task.task_instance_id,
                            "traceId": task.trace_id,
                        });
                        Some(&wrapped)
                    }
                    other => other,
                };
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
                        "traceId": task.trace_id,
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
            "traceId": task.trace_id,
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
    fn an_enveloped_answer_and_every_failure_carry_the_task_and_its_trace() {
        let mut task = ended(TaskStatus::Completed);
        task.trace_id = Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01".into());
        task.callback = Some(crate::domain::Callback {
            task_token: "t".into(),
            heartbeat_seconds: 60,
            envelope: true,
        });
        let Some(Outcome::Success { output }) = Outcome::of(&task, Some(&json!({"n": 2}))) else {
            panic!("a success")
        };
        let output: Value = serde_json::from_str(&output).unwrap();
        assert_eq!(output["output"], json!({"n": 2}));
        assert_eq!(output["traceId"], json!(task.trace_id));
        assert_eq!(output["taskInstanceId"], json!(task.task_instance_id));
        task.status = TaskStatus::Failed;
        task.error = Some(TaskError::new("TIMEOUT", "too slow"));
        let Some(Outcome::Failure { cause, .. }) = Outcome::of(&task, None) else {
            panic!("a failure")
        };
        assert!(
            cause.contains("5759e988bd862e3fe1be46a994272793"),
            "{cause}"
        );
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
}
