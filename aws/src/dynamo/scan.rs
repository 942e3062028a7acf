//! A full read of the table's tasks and attempt history: for `tel stats` on
//! a local stack. It reads everything, so it is never used by a function.

use super::errors::dynamo_error;
use super::task_item::task_from_item;
use super::task_store::DynamoTaskStore;
use tel_core::domain::{HistoryEntry, TaskInstance, TaskInstanceId};
use tel_core::ports::StoreError;

#[derive(Debug, Default)]
pub struct TableContents {
    pub tasks: Vec<TaskInstance>,
    /// History entries that end an attempt (they carry a duration), by task.
    pub attempts: Vec<(TaskInstanceId, HistoryEntry)>,
}

impl DynamoTaskStore {
    pub async fn scan_tasks(&self) -> Result<TableContents, StoreError> {
        let mut contents = TableContents::default();
        let mut start = None;
        loop {
            let out = self
                .client()
                .scan()
                .table_name(self.table())
                .filter_expression("itemType = :task")
                .expression_attribute_values(":task", super::attributes::s("task"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| dynamo_error("Scan", self.table(), e))?;
            for item in out.items() {
                let task = task_from_item(item)?;
                let id = task.task_instance_id;
                contents.attempts.extend(
                    task.history
                        .iter()
                        .filter(|h| h.duration_ms.is_some())
                        .map(|h| (id, h.clone())),
                );
                contents.tasks.push(task);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(contents);
            }
        }
    }
}
