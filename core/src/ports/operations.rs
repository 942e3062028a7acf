//! Where bulk operations are kept, and how their tasks are found: the
//! sparse operations index, read in proportion to what a selection covers.

use async_trait::async_trait;

use super::{Page, PageRequest, StoreError};
use crate::domain::TaskInstanceId;
use crate::domain::operation::{Operation, Selection, TaskOutcome};

/// A selection counted past this is reported as "more than".
pub const MATCH_COUNT_CAP: u64 = 100_000;

/// A task a selection found, and where the selection goes on after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub id: TaskInstanceId,
    pub after: String,
}

/// One step through a selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedPage {
    /// Matching tasks, in the index's order; possibly none while `next` goes on.
    pub found: Vec<Selected>,
    /// Where to go on after the whole page; `None` once the selection is read through.
    pub next: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchCount {
    pub count: u64,
    /// Counting stopped before the end (at `MATCH_COUNT_CAP` matches, or
    /// after reading its most): at least `count` match.
    pub capped: bool,
}

/// Whether a conditional save of an operation took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Saved,
    /// Someone saved it first (its version moved): re-read and decide.
    Superseded,
}

#[async_trait]
pub trait OperationStore: Send + Sync {
    /// Writes a new operation (its id is new).
    async fn create_operation(&self, operation: &Operation) -> Result<(), StoreError>;

    async fn operation(&self, id: &str) -> Result<Option<Operation>, StoreError>;

    /// Operations, newest first.
    async fn operations(&self, page: PageRequest) -> Result<Page<Operation>, StoreError>;

    /// Operations still running, for the runner.
    async fn running_operations(&self) -> Result<Vec<Operation>, StoreError>;

    /// Writes `operation` if the stored one is still at `expected_version`.
    async fn save_operation(
        &self,
        operation: &Operation,
        expected_version: u64,
    ) -> Result<Saved, StoreError>;

    /// Up to `limit` index entries of `selection` after `cursor`: the
    /// matching ones, each with the cursor that goes on after it (so a
    /// page can be worked through in smaller batches).
    async fn select(
        &self,
        selection: &Selection,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SelectedPage, StoreError>;

    /// How many tasks `selection` matches now, up to `MATCH_COUNT_CAP`.
    async fn count_matching(&self, selection: &Selection) -> Result<MatchCount, StoreError>;

    /// Writes (or overwrites) what the operation did to these tasks.
    async fn record_outcomes(
        &self,
        operation_id: &str,
        outcomes: &[TaskOutcome],
    ) -> Result<(), StoreError>;

    /// What the operation did, task by task, in task-id order.
    async fn outcomes(
        &self,
        operation_id: &str,
        page: PageRequest,
    ) -> Result<Page<TaskOutcome>, StoreError>;
}
