//! A full read of the table's tasks and attempt history: for `tel stats` on
//! a local stack. It reads everything, so it is never used by a function.

use super::task_store::DynamoTaskStore;
use tel_core::domain::{HistoryEntry, TaskInstance, TaskInstanceId};
use tel_core::ports::{PageRequest, StoreError, TaskFilter};

#[derive(Debug, Default)]
pub struct TableContents {
    pub tasks: Vec<TaskInstance>,
    /// History entries that end an attempt (they carry a duration), by task.
    pub attempts: Vec<(TaskInstanceId, HistoryEntry)>,
}

impl TableContents {
    pub fn add(&mut self, task: TaskInstance) {
        let id = task.task_instance_id;
        self.attempts.extend(
            task.history
                .iter()
                .filter(|h| h.duration_ms.is_some())
                .map(|h| (id, h.clone())),
        );
        self.tasks.push(task);
    }
}

impl DynamoTaskStore {
    pub async fn scan_tasks(&self) -> Result<TableContents, StoreError> {
        let mut contents = TableContents::default();
        let mut cursor = None;
        loop {
            let page = PageRequest {
                limit: Some(i32::MAX),
                cursor,
            };
            let page = self.list_tasks(&TaskFilter::default(), page).await?;
            page.items.into_iter().for_each(|t| contents.add(t));
            cursor = page.next_cursor;
            if cursor.is_none() {
                return Ok(contents);
            }
        }
    }
}
