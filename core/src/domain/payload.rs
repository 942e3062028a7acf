//! Payloads by reference (a claim check): an input, context or output larger
//! than the deployment's threshold lives in the stack's S3 bucket, and the
//! task, its messages and its events carry where it is, how large it is, and
//! its SHA-256, which is checked whenever it is read back.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadRef {
    pub bucket: String,
    pub key: String,
    /// Bytes of the JSON document.
    pub size: u64,
    /// Hex SHA-256 of those bytes.
    pub sha256: String,
}

/// Which payload of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadField {
    Input,
    Context,
    Output,
}

impl PayloadField {
    pub const ALL: [PayloadField; 3] = [Self::Input, Self::Context, Self::Output];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Context => "context",
            Self::Output => "output",
        }
    }
}

/// Where an orchestrator that offloads put a request's input: an object of
/// the stack's payload bucket (the only one tel's functions may read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectLocation {
    pub bucket: String,
    pub key: String,
}
