//! `StepCallbacks` over Step Functions: `SendTaskSuccess`, `SendTaskFailure`
//! and `SendTaskHeartbeat`. The SDK retries throttled calls; what still
//! fails is classified by its code, never by its message. The token is not
//! put in any error: it is a credential for the step.

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::aws_error::classify;
use tel_core::ports::{CallbackError, StepCallbacks};

/// Answers meaning nobody waits on the token any more.
const GONE_CODES: &[&str] = &["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"];

#[derive(Clone)]
pub struct StepFunctionsCallbacks {
    client: Client,
}

impl StepFunctionsCallbacks {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn callback_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> CallbackError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let error = classify(operation, "the waiting Step Functions task", err);
    match code {
        Some(code) if GONE_CODES.contains(&code.as_str()) => CallbackError::Gone {
            code,
            source: error,
        },
        _ => CallbackError::Aws(error),
    }
}

#[async_trait]
impl StepCallbacks for StepFunctionsCallbacks {
    async fn succeed(&self, token: &str, output: &str) -> Result<(), CallbackError> {
        self.client
            .send_task_success()
            .task_token(token)
            .output(output)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| callback_error("SendTaskSuccess", e))
    }

    async fn fail(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError> {
        self.client
            .send_task_failure()
            .task_token(token)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| callback_error("SendTaskFailure", e))
    }

    async fn heartbeat(&self, token: &str) -> Result<(), CallbackError> {
        self.client
            .send_task_heartbeat()
            .task_token(token)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| callback_error("SendTaskHeartbeat", e))
    }
}
