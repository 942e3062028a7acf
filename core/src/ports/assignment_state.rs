use async_trait::async_trait;

use super::StoreError;

/// Shared state the assignment strategies read and update.
#[async_trait]
pub trait AssignmentState: Send + Sync {
    /// The next value (1, 2, 3, …) of a named counter. Atomic: concurrent
    /// callers each get a different value, so round-robin stays fair.
    async fn next_turn(&self, counter: &str) -> Result<u64, StoreError>;

    /// Open tasks (ASSIGNED or CLAIMED) a user holds.
    async fn open_tasks(&self, user: &str) -> Result<u64, StoreError>;
}
