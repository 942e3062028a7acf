//! AWS SDK errors classified by their typed metadata: the kind of SDK failure,
//! the error code the service answered with, and its HTTP status; never by
//! message text. The SDK error is kept as the `source`, so logs show the chain.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use tel_core::ports::{AwsError, ErrorClass};

/// Codes that mean "try again later", whatever the status.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "TransactionConflictException",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "ExpiredToken",
    "ExpiredTokenException",
];

/// Codes that mean "the deployment is wrong": something missing or forbidden.
const CONFIGURATION_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "MissingAuthenticationToken",
    "NotAuthorized",
    "NoSuchBucket",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "KMSAccessDeniedException",
    "KMSDisabledException",
    "KMSNotFoundException",
];

/// Classifies a failed call of `operation` on `resource`.
pub fn classify<E>(
    operation: &'static str,
    resource: impl Into<String>,
    err: SdkError<E, HttpResponse>,
) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().map(str::to_owned);
    let status = err.raw_response().map(|r| r.status().as_u16());
    let class = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorClass::Transient
        }
        SdkError::ConstructionFailure(_) => ErrorClass::Refused,
        _ => class_of(code.as_deref(), status),
    };
    AwsError {
        operation,
        resource: resource.into(),
        class,
        code,
        source: Box::new(err),
    }
}

/// The class of a service's answer, from its error code, else its status.
pub fn class_of(code: Option<&str>, status: Option<u16>) -> ErrorClass {
    match (code, status) {
        (Some(code), _) if TRANSIENT_CODES.contains(&code) => ErrorClass::Transient,
        (Some(code), _) if CONFIGURATION_CODES.contains(&code) => ErrorClass::Configuration,
        (_, Some(429)) | (_, Some(500..=599)) | (_, None) => ErrorClass::Transient,
        (_, Some(401 | 403 | 404)) => ErrorClass::Configuration,
        _ => ErrorClass::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_decide_before_statuses() {
        assert_eq!(
            class_of(Some("ProvisionedThroughputExceededException"), Some(400)),
            ErrorClass::Transient
        );
        assert_eq!(
            class_of(Some("ResourceNotFoundException"), Some(400)),
            ErrorClass::Configuration
        );
        assert_eq!(
            class_of(Some("AWS.SimpleQueueService.NonExistentQueue"), Some(400)),
            ErrorClass::Configuration
        );
        assert_eq!(
            class_of(Some("ValidationException"), Some(400)),
            ErrorClass::Refused
        );
        assert_eq!(class_of(None, Some(503)), ErrorClass::Transient);
        assert_eq!(class_of(None, Some(429)), ErrorClass::Transient);
        assert_eq!(class_of(None, Some(403)), ErrorClass::Configuration);
        assert_eq!(class_of(Some("Whatever"), Some(400)), ErrorClass::Refused);
    }
}
