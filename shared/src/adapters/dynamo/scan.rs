//! A full read of the table's tasks and attempt history: for `tel stats` on
//! a local stack. It reads everything, so it is never used by a function.

use super::attributes::get_s;
use super::errors::unavailable;
use super::keys::*;
use super::task_item::{history_from_item, task_from_item};
use super::task_store::DynamoTaskStore;
use crate::domain::{HistoryEntry, TaskInstance, TaskInstanceId};
use crate::ports::StoreError;

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
                .filter_expression(
                    "itemType = :task OR (itemType = :history AND attribute_exists(durationMs))",
                )
                .expression_attribute_values(":task", super::attributes::s("task"))
                .expression_attribute_values(":history", super::attributes::s("history"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable("Scan", e))?;
            for item in out.items() {
                match get_s(item, ITEM_TYPE) {
                    Some("task") => contents.tasks.push(task_from_item(item)?),
                    Some("history") => {
                        let id = get_s(item, PK)
                            .and_then(|pk| pk.strip_prefix("TASK#"))
                            .and_then(|id| TaskInstanceId::parse(id).ok())
                            .ok_or_else(|| {
                                StoreError::Corrupt("history item without task".into())
                            })?;
                        contents.attempts.push((id, history_from_item(item)?));
                    }
                    _ => {}
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(contents);
            }
        }
    }
}
