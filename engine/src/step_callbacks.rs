//! Answers the orchestrator step waiting on a task (a Step Functions task
//! token) when the task ends. Run by the change-stream publisher, beside the
//! events: the answer follows from the stored terminal write, so a function
//! that dies after that write loses nothing, and the stream delivers the
//! change again until the answer is given (or nobody waits any more).
//! Answering twice is harmless: Step Functions refuses the second answer
//! (`TaskTimedOut`), which counts as done.

use std::sync::Arc;

use tracing::{error, info, warn};

use crate::TaskEngine;
use tel_core::domain::callback::MAX_CALLBACK_OUTPUT_BYTES;
use tel_core::domain::{Outcome, TaskInstance};
use tel_core::ports::{CallbackError, ErrorClass, TaskChange};

pub struct StepNotifier {
    engine: Arc<TaskEngine>,
}

/// The step could not be answered now; delivering the change again may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswered(pub String);

impl StepNotifier {
    pub fn new(engine: Arc<TaskEngine>) -> Self {
        Self { engine }
    }

    /// Answers the step waiting on the task of `change`, if this write ended
    /// the task. An answer refused for what it is (it would be refused
    /// again) is logged and dropped; throttling, a 5xx or a deployment that
    /// may not call Step Functions leave the change to be delivered again.
    pub async fn answer(&self, change: &TaskChange) -> Result<(), Unanswered> {
        let task = &change.task;
        let ended_here = change.new_entries().any(|entry| entry.to.is_terminal());
        let (Some(callback), true) = (&task.callback, ended_here && task.status.is_terminal())
        else {
            return Ok(());
        };
        let output = self.output_of(task).await?;
        let Some(outcome) = Outcome::of(task, output.as_ref()) else {
            return Ok(());
        };
        let callbacks = self.engine.callbacks();
        let token = &callback.task_token;
        let (sent, kind) = match &outcome {
            Outcome::Success { output } => (callbacks.succeed(token, output).await, "success"),
            Outcome::Failure { error, cause } => {
                (callbacks.fail(token, error, cause).await, "failure")
            }
        };
        let id = task.task_instance_id;
        match sent {
            Ok(()) => {
                info!(task_instance_id = %id, status = %task.status, answer = kind, "waiting step answered");
                Ok(())
            }
            Err(CallbackError::Gone { code, .. }) => {
                info!(task_instance_id = %id, %code, "the waiting step is gone; nothing to answer");
                Ok(())
            }
            Err(CallbackError::Aws(e)) => match e.class {
                ErrorClass::Transient => {
                    warn!(task_instance_id = %id, error = %e, "waiting step not answered for now; the stream delivers the change again");
                    Err(Unanswered(e.to_string()))
                }
                ErrorClass::Configuration => {
                    error!(task_instance_id = %id, error = %e, code = "CONFIGURATION_ERROR", "this deployment may not answer Step Functions; the stream holds the change");
                    Err(Unanswered(e.to_string()))
                }
                ErrorClass::Refused => {
                    warn!(task_instance_id = %id, error = %e, "Step Functions refused the answer; dropped");
                    Ok(())
                }
            },
        }
    }

    /// The output to answer with: inline, or read back from the payload
    /// bucket when Step Functions can take it (else `Outcome` sends where it is).
    async fn output_of(
        &self,
        task: &TaskInstance,
    ) -> Result<Option<serde_json::Value>, Unanswered> {
        match &task.output_ref {
            Some(at) if at.size <= MAX_CALLBACK_OUTPUT_BYTES as u64 => {
                match self.engine.read_payload(at).await {
                    Ok(value) => Ok(Some(value)),
                    Err(e) if e.is_transient() => Err(Unanswered(e.to_string())),
                    Err(e) => {
                        warn!(task_instance_id = %task.task_instance_id, error = %e, "output unreadable; the step gets where it is");
                        Ok(None)
                    }
                }
            }
            Some(_) => Ok(None),
            None => Ok(task.output.clone()),
        }
    }
}
