//! How much of its lifecycle a task announces; the rule is `events`.

use serde::{Deserialize, Serialize};

/// Which of a task's lifecycle events go on the bus: all of them (the
/// default), or only its outcome (`task.completed`, `task.failed`,
/// `task.cancelled`) for consumers that need nothing else, at a third of
/// the events' price. Metrics and logs see every event either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventMode {
    #[default]
    All,
    Outcomes,
}

impl EventMode {
    pub fn is_all(&self) -> bool {
        *self == Self::All
    }
}
