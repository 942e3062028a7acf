//! SDK errors as store errors: classified by their typed metadata
//! (`adapters::aws_error`), the SDK error kept as the source. Transient ones
//! are retried (in process, then by SQS); the others fail the task at once.

use aws_sdk_dynamodb::error::SdkError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws_error::classify;
use tel_core::ports::StoreError;

pub fn dynamo_error<E>(
    operation: &'static str,
    table: &str,
    err: SdkError<E, HttpResponse>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    StoreError::Aws(classify(operation, format!("table {table}"), err))
}

pub fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Corrupt(format!("could not build a request: {err}"))
}
