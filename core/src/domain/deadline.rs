//! Why a task waits in the deadline index.

use serde::{Deserialize, Serialize};

/// Why a task is in the deadline index. A task may wait on several at once;
/// the index holds the earliest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeadlineKind {
    /// The queue message of the current stage may have been lost: send it again.
    Redeliver,
    /// The running attempt's lease ends: the executor died or hung.
    Lease,
    /// A retry waiting longer than a queue delay is due.
    RetryAt,
    /// A manual task's reminder is due.
    Reminder,
    /// A manual task's next escalation step is due.
    Escalation,
    /// A manual task is overdue.
    Due,
    /// Never started within the definition's `scheduleToStartSeconds`.
    StartBy,
    /// Not finished within the definition's `scheduleToCloseSeconds`, all attempts together.
    CloseBy,
    /// The orchestrator step waiting on the task is due to hear it is alive.
    Heartbeat,
}
