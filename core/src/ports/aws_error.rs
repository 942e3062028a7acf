//! A failed AWS call, as tel's errors carry it: what was asked of what, how
//! it failed (its class, decided by the adapter from typed metadata), and the
//! SDK error itself as the `source`.

use std::fmt;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What to do about a failed AWS call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttled, timed out, a network failure, a 5xx: the same call may
    /// succeed later.
    Transient,
    /// A resource that does not exist, or access denied: the deployment is
    /// wrong, and no retry mends it.
    Configuration,
    /// Refused for what was asked (a validation error, another 4xx): the same
    /// call would be refused again.
    Refused,
}

#[derive(Debug)]
pub struct AwsError {
    /// The operation, e.g. `PutItem`.
    pub operation: &'static str,
    /// What it was asked of, e.g. `table tel-dev-tasks`.
    pub resource: String,
    pub class: ErrorClass,
    /// The service's error code, when it answered with one.
    pub code: Option<String>,
    pub source: BoxError,
}

impl AwsError {
    pub fn is_transient(&self) -> bool {
        self.class == ErrorClass::Transient
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.class {
            ErrorClass::Transient => "failed for now",
            ErrorClass::Configuration => "is not possible with this deployment",
            ErrorClass::Refused => "was refused",
        };
        write!(f, "{} on {} {what}", self.operation, self.resource)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AwsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}
