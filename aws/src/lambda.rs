//! The `lambda` runner: invokes another Lambda function synchronously with the
//! task input and takes its JSON result. The seam for remote execution.

use async_trait::async_trait;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::primitives::Blob;
use serde_json::{Value, json};

use tel_core::domain::task_error::EXECUTION_ERROR;
use tel_core::domain::{Implementation, TaskError};
use tel_core::ports::runner::{RunError, RunJob, Runner};

pub struct LambdaRunner {
    client: Client,
}

impl LambdaRunner {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// Lambda's limit on a synchronous invocation's request (and response): 6 MB.
pub const MAX_INVOKE_BYTES: usize = 6 * 1024 * 1024;

#[async_trait]
impl Runner for LambdaRunner {
    fn kind(&self) -> &'static str {
        "lambda"
    }

    async fn run(&self, job: RunJob<'_>) -> Result<Value, RunError> {
        let Some(Implementation::Lambda {
            function_name,
            qualifier,
        }) = &job.definition.implementation
        else {
            return Err(RunError::permanent(TaskError::new(
                EXECUTION_ERROR,
                "not a lambda implementation",
            )));
        };
        let payload = serde_json::to_vec(&job.task.input).expect("JSON values serialise");
        if payload.len() > MAX_INVOKE_BYTES {
            return Err(RunError::permanent(
                TaskError::new(
                    tel_core::domain::task_error::PAYLOAD_TOO_LARGE,
                    format!(
                        "the input takes {} bytes; a synchronous Lambda invocation carries at most {MAX_INVOKE_BYTES}",
                        payload.len()
                    ),
                )
                .with_details(serde_json::json!({ "bytes": payload.len(), "limitBytes": MAX_INVOKE_BYTES })),
            ));
        }
        let call = self
            .client
            .invoke()
            .function_name(function_name)
            .set_qualifier(qualifier.clone())
            .payload(Blob::new(payload))
            .send();
        let out = match tokio::time::timeout(job.timeout, call).await {
            Err(_) => {
                return Err(RunError::retryable(TaskError::new(
                    tel_core::domain::task_error::TIMEOUT,
                    format!(
                        "{function_name} did not answer within {}s",
                        job.timeout.as_secs_f64()
                    ),
                )));
            }
            Ok(Err(e)) => {
                // Missing functions and bad requests stay broken; throttling and service errors pass.
                let permanent = matches!(
                    e.as_service_error(),
                    Some(
                        InvokeError::ResourceNotFoundException(_)
                            | InvokeError::InvalidRequestContentException(_)
                            | InvokeError::RequestTooLargeException(_)
                    )
                );
                let error = TaskError::new(
                    EXECUTION_ERROR,
                    format!(
                        "invoking {function_name} failed: {}",
                        DisplayErrorContext(&e)
                    ),
                );
                return Err(if permanent {
                    RunError::permanent(error)
                } else {
                    RunError::retryable(error)
                });
            }
            Ok(Ok(out)) => out,
        };
        let body = out.payload.map(Blob::into_inner).unwrap_or_default();
        let result: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|e| {
                RunError::permanent(TaskError::new(
                    EXECUTION_ERROR,
                    format!("{function_name} returned something that is not JSON: {e}"),
                ))
            })?
        };
        if let Some(kind) = out.function_error {
            let message = result
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or("the function failed");
            let error = TaskError::new(
                EXECUTION_ERROR,
                format!("{function_name} failed: {message}"),
            )
            .with_details(json!({
                "functionError": kind,
                "errorType": result.get("errorType"),
                "errorMessage": message,
            }));
            return Err(RunError::retryable(error));
        }
        Ok(result)
    }
}
