//! A call's failure as the runner carries it until it becomes the task's
//! error: retryable or not, paced or not, and whether it speaks of the
//! downstream's health (only those feed the circuit breaker).

use std::time::Duration;

use crate::RunError;
use tel_core::domain::TaskError;
use tel_core::domain::mapping::MappingError;
use tel_core::domain::task_error::MAPPING_ERROR;

/// A call's failure, before it becomes the task's error.
pub(super) struct Failure {
    pub error: TaskError,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
    /// Whether it says the downstream is in trouble (for the breaker).
    pub downstream: bool,
}

impl Failure {
    pub fn permanent(code: &str, message: String) -> Self {
        Self {
            error: TaskError::new(code, message),
            retryable: false,
            retry_after: None,
            downstream: false,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.error = self.error.with_details(details);
        self
    }
}

impl From<Failure> for RunError {
    fn from(f: Failure) -> Self {
        RunError {
            error: f.error,
            retryable: f.retryable,
            retry_after: f.retry_after,
        }
    }
}

impl From<MappingError> for Failure {
    fn from(e: MappingError) -> Self {
        Failure::permanent(MAPPING_ERROR, e.to_string())
    }
}
