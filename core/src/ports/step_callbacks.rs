use async_trait::async_trait;

use super::AwsError;

/// Answers the orchestrator step waiting on a task (Step Functions' task
/// token): how the task ended, or that it is still alive.
#[async_trait]
pub trait StepCallbacks: Send + Sync {
    /// `SendTaskSuccess` with `output` (JSON text).
    async fn succeed(&self, token: &str, output: &str) -> Result<(), CallbackError>;
    /// `SendTaskFailure` with tel's error code and the error as JSON text.
    async fn fail(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError>;
    /// `SendTaskHeartbeat`.
    async fn heartbeat(&self, token: &str) -> Result<(), CallbackError>;
}

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// Nobody waits on the token any more: the step timed out, its execution
    /// was stopped or timed out, or it was answered already (Step Functions'
    /// `TaskTimedOut`, `TaskDoesNotExist`, `InvalidToken`). Nothing to retry.
    #[error("the waiting step is gone ({code})")]
    Gone {
        code: String,
        #[source]
        source: AwsError,
    },
    /// The call failed; its class says whether retrying can help.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl CallbackError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Aws(e) if e.is_transient())
    }
}
