//! The three kinds of task: run by tel, by an external service, by a person.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskType {
    Automated,
    Integration,
    Manual,
}

impl TaskType {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Automated => "automated",
            Self::Integration => "integration",
            Self::Manual => "manual",
        }
    }
}
