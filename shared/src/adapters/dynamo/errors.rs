//! SDK errors as store errors. Anything we cannot act on is `Unavailable`,
//! which handlers turn into a batch item failure so SQS retries it.

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};

use crate::ports::StoreError;

pub fn unavailable<E, R>(action: &str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Unavailable(format!("{action}: {}", DisplayErrorContext(err)))
}

pub fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(format!("could not build a request: {err}"))
}
