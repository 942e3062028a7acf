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

/// An error that says the write's condition did not hold.
pub trait ConditionFailed {
    fn is_condition_failed(&self) -> bool;
}

impl ConditionFailed for aws_sdk_dynamodb::operation::put_item::PutItemError {
    fn is_condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionFailed for aws_sdk_dynamodb::operation::delete_item::DeleteItemError {
    fn is_condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionFailed for aws_sdk_dynamodb::operation::update_item::UpdateItemError {
    fn is_condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

/// A conditional write's answer: `true` written, `false` its condition did
/// not hold (someone else wrote first: not an error); any other error
/// classified as `dynamo_error` does.
pub fn written<O, E>(
    result: Result<O, SdkError<E, HttpResponse>>,
    operation: &'static str,
    table: &str,
) -> Result<bool, StoreError>
where
    E: ConditionFailed + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(E::is_condition_failed) => Ok(false),
        Err(e) => Err(dynamo_error(operation, table, e)),
    }
}
