use async_trait::async_trait;

use super::StoreError;

/// Shared state the assignment strategies read and update.
#[async_trait]
pub trait AssignmentState: Send + Sync {
    /// The next value (1, 2, 3, …) of a named counter, taken by `taker` (a
    /// task's id). Atomic: concurrent callers each get a different value, so
    /// round-robin stays fair. The taker of the last turn asking again gets
    /// that turn back rather than a new one: a call applied but answered with
    /// an error and retried (by the SDK or by a redelivery nobody overtook)
    /// does not skip a user.
    async fn next_turn(&self, counter: &str, taker: &str) -> Result<u64, StoreError>;

    /// Open tasks (ASSIGNED or CLAIMED) a user holds.
    async fn open_tasks(&self, user: &str) -> Result<u64, StoreError>;
}
