//! Where a task is in its lifecycle.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    /// Recorded by the router: its input is being validated, then it waits
    /// for its first attempt (or for manual assignment).
    Created,
    /// Waiting for another attempt, on the queue.
    Queued,
    /// An executor holds the lease and is running an attempt.
    Running,
    /// Failed attempt; the next one is due later than a queue delay can carry.
    RetryWait,
    /// A manual task with an assignee, not yet claimed.
    Assigned,
    /// A manual task a person has claimed.
    Claimed,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 10] = [
        Self::Created,
        Self::Queued,
        Self::Running,
        Self::RetryWait,
        Self::Assigned,
        Self::Claimed,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::TimedOut,
    ];

    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Cancelled | Self::TimedOut
        )
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Queued => "QUEUED",
            Self::Running => "RUNNING",
            Self::RetryWait => "RETRY_WAIT",
            Self::Assigned => "ASSIGNED",
            Self::Claimed => "CLAIMED",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::TimedOut => "TIMED_OUT",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
