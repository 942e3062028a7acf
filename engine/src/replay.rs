//! Replay with corrected input: a manager runs a FAILED or TIMED_OUT task
//! again with input they edited. The task keeps its id, workflow and
//! callback; the input is checked against its definition version's schema
//! before anything is written; the input it had stays readable, kept in the
//! payload store by reference (its key names its content), and the history
//! entry says who replaced it and where the old one is.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ApplyError, TaskEngine};
use tel_core::domain::schema::SchemaViolation as Violation;
use tel_core::domain::{Action, PayloadField, PayloadRef, TaskInstance};

/// Why a replay was refused before anything was written.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The corrected input does not match the definition's input schema:
    /// each violation with its path.
    #[error("the input does not match the inputSchema of {definition}: {} error(s)", violations.len())]
    Invalid {
        definition: String,
        violations: Vec<Violation>,
    },
    /// The task's definition version is gone: nothing can check the input.
    #[error("definition {0} no longer exists")]
    UnknownDefinition(String),
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

impl TaskEngine {
    /// Runs `task` again from input validation with `input` in place of the
    /// input it had.
    pub async fn replay(
        &self,
        task: &TaskInstance,
        input: Value,
        by: Option<String>,
    ) -> Result<TaskInstance, ReplayError> {
        let loaded = self
            .definitions()
            .exact(&task.definition_name, task.definition_version)
            .await
            .map_err(ApplyError::from)?
            .ok_or_else(|| ReplayError::UnknownDefinition(task.definition_ref()))?;
        let violations = loaded.input.violations(&input);
        if !violations.is_empty() {
            return Err(ReplayError::Invalid {
                definition: task.definition_ref(),
                violations,
            });
        }
        let previous = self.keep_previous_input(task).await?;
        let action = Action::Replay {
            input,
            previous,
            by,
            redeliver_at: self.redeliver_at(),
        };
        Ok(self.apply(task, action).await?)
    }

    /// Where the task's current input stays readable: the reference it is
    /// stored under already, or one made now; inline only for a deployment
    /// with no payload store.
    async fn keep_previous_input(&self, task: &TaskInstance) -> Result<Value, ApplyError> {
        if let Some(at) = &task.input_ref {
            return Ok(json!({ "previousInputRef": at }));
        }
        let Some(store) = &self.payloads else {
            return Ok(json!({ "previousInput": task.input }));
        };
        let bytes = serde_json::to_vec(&task.input).expect("JSON values serialise");
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let at = PayloadRef {
            bucket: store.bucket().to_owned(),
            key: super::payloads::task_payload_key(task, PayloadField::Input, &sha256),
            size: bytes.len() as u64,
            sha256,
        };
        store.put(&at.key, bytes).await?;
        Ok(json!({ "previousInputRef": at }))
    }
}
