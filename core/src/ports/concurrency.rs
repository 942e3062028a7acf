use async_trait::async_trait;

use super::StoreError;
use crate::domain::TaskInstanceId;

/// Concurrency limits shared by every executor: a named pool of slots, each
/// held by a task id. Holding is idempotent (a redelivered message holds the
/// slot it already has) and releasing twice is harmless.
#[async_trait]
pub trait ConcurrencySlots: Send + Sync {
    /// Takes a slot of `pool` for `holder` if fewer than `max` are held; false when full.
    async fn acquire(
        &self,
        pool: &str,
        holder: TaskInstanceId,
        max: u32,
    ) -> Result<bool, StoreError>;

    async fn release(&self, pool: &str, holder: TaskInstanceId) -> Result<(), StoreError>;

    /// Every pool with its holders, for repairing leaked slots.
    async fn pools(&self) -> Result<Vec<(String, Vec<TaskInstanceId>)>, StoreError>;

    /// Takes one of `limit` calls allowed to `key` in the one-second `window`
    /// (seconds since the epoch); false when they are all taken.
    async fn take_rate(&self, key: &str, window: i64, limit: u32) -> Result<bool, StoreError>;
}
