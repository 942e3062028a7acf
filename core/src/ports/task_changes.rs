use crate::domain::{SearchEntries, TaskInstance};

/// One task write as the table's change stream carries it: the task as the
/// write left it, and the version it had before (0 for a new task), so the
/// history entries this write added are those above `previous_version`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskChange {
    /// Position in the stream (a DynamoDB Streams sequence number).
    pub sequence: String,
    pub previous_version: u64,
    pub task: TaskInstance,
    /// The task's search entries before this write (from the old image),
    /// which filing the new ones replaces.
    pub previously_filed: Option<SearchEntries>,
}

impl TaskChange {
    /// The search entries the task has after this write.
    pub fn filed(&self) -> Option<SearchEntries> {
        SearchEntries::of(&self.task)
    }

    /// The history entries this write added, oldest first.
    pub fn new_entries(&self) -> impl Iterator<Item = &crate::domain::HistoryEntry> {
        self.task
            .history
            .iter()
            .filter(move |h| h.version > self.previous_version)
    }
}
