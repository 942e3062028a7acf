//! The operator's listing of tasks: a filtered Scan, a page at a time. No
//! index serves it on purpose: an index by status would add a write unit to
//! every transition of every task, for a view people open now and then.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attributes::{decode_cursor, encode_cursor, s};
use super::errors::dynamo_error;
use super::keys::{PK, SK};
use super::task_item::task_from_item;
use super::task_store::DynamoTaskStore;
use tel_core::domain::TaskInstance;
use tel_core::ports::LIST_PAGE;
use tel_core::ports::{Page, PageRequest, StoreError, TaskFilter};

/// Scan calls one listing page may make: each reads up to 1 MB of the table
/// (items of every kind: tasks, search entries, definitions), so a page
/// costs at most this many MB of reads however few tasks match.
const MAX_SCAN_CALLS: usize = 8;

/// Items a Scan evaluates per task it looks for: a manual task has up to
/// `MAX_SEARCHABLE` + 4 search entries beside it, so a page's worth of
/// tasks is read in one call without reading a whole megabyte for it.
const SCANNED_PER_TASK: usize = tel_core::domain::search::MAX_SEARCHABLE + 5;

impl DynamoTaskStore {
    pub(super) async fn list_tasks(
        &self,
        filter: &TaskFilter,
        page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError> {
        let limit = page.size(LIST_PAGE) as usize;
        let mut conditions = vec!["itemType = :task"];
        let mut values = vec![(":task", s("task"))];
        if let Some(status) = filter.status {
            conditions.push("#status = :status");
            values.push((":status", s(status.to_string())));
        }
        if let Some(name) = &filter.definition_name {
            conditions.push("definitionName = :definition");
            values.push((":definition", s(name.clone())));
        }
        let mut start = page.cursor.as_deref().map(decode_cursor).transpose()?;
        // A Scan's position is a table key: anything else was not made here.
        if start
            .as_ref()
            .is_some_and(|key| key.len() != 2 || !key.contains_key(PK) || !key.contains_key(SK))
        {
            return Err(StoreError::InvalidCursor);
        }
        let mut items = Vec::new();
        let mut items_last_key = None;
        for _ in 0..MAX_SCAN_CALLS {
            let mut scan = self
                .client()
                .scan()
                .table_name(self.table())
                .filter_expression(conditions.join(" AND "))
                .set_expression_attribute_values(Some(
                    values
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), v.clone()))
                        .collect::<std::collections::HashMap<String, AttributeValue>>(),
                ))
                .limit(((limit - items.len()) * SCANNED_PER_TASK) as i32)
                .set_exclusive_start_key(start.take());
            if filter.status.is_some() {
                scan = scan.expression_attribute_names("#status", "status");
            }
            let out = scan
                .send()
                .await
                .map_err(|e| dynamo_error("Scan", self.table(), e))?;
            start = out.last_evaluated_key.clone();
            for item in out.items() {
                if items.len() == limit {
                    // A full page: the next one starts after the last task on it
                    // (a Scan resumes after any key of the table).
                    start = items_last_key.take();
                    break;
                }
                items.push(task_from_item(item)?);
                items_last_key = Some(key_of(item));
            }
            if start.is_none() || items.len() >= limit {
                break;
            }
        }
        Ok(Page {
            items,
            next_cursor: start.as_ref().map(encode_cursor),
        })
    }
}

/// An item's table key, as a Scan's `ExclusiveStartKey`.
fn key_of(
    item: &std::collections::HashMap<String, AttributeValue>,
) -> std::collections::HashMap<String, AttributeValue> {
    item.iter()
        .filter(|(name, _)| *name == PK || *name == SK)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}
