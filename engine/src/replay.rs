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

/// The largest previous input kept in the history itself (deployments
/// without a payload bucket).
const MAX_INLINE_PREVIOUS_BYTES: usize = 16 * 1024;

/// Why a replay was refused before anything was written.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The corrected input does not match the definition's input schema:
    /// each violation with its path.
    #[error("the input does not match the inputSchema of {definition}: {} error(s)", violations.len())]
    Invalid {
        definition: String,
        violations: Vec<Violation<'static>>,
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
        let violations = loaded.input().map_err(ApplyError::from)?.violations(&input);
        if !violations.is_empty() {
            return Err(ReplayError::Invalid {
                definition: task.definition_ref(),
                violations: violations.into_iter().map(Violation::into_owned).collect(),
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
        // tel's own payload objects are kept as they are; an input adopted
        // from `requests/` is its sender's object (they may replace or delete
        // it), so it is copied under the task's own keys first.
        let input = match &task.input_ref {
            Some(at) if !at.key.starts_with(super::REQUEST_PAYLOAD_PREFIX) => {
                return Ok(json!({ "previousInputRef": at }));
            }
            Some(at) => self.read_payload(at).await?,
            None => task.input.clone(),
        };
        let bytes = serde_json::to_vec(&input).expect("JSON values serialise");
        let Some(store) = &self.payloads else {
            // Without a bucket only a small input is kept (the task's item
            // holds at most 400 KB, and later writes need the room).
            return Ok(if bytes.len() <= MAX_INLINE_PREVIOUS_BYTES {
                json!({ "previousInput": input })
            } else {
                json!({ "previousInputDropped": { "bytes": bytes.len() } })
            });
        };
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
