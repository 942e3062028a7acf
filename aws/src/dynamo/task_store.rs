//! `TaskStore` over the single DynamoDB table: one item per task, one
//! conditional single-item write per transition. Events are not written here:
//! the table's change stream carries each write to the publisher.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValuesOnConditionCheckFailure,
};
use chrono::{DateTime, Utc};

use super::attributes::{Item, get_s, n, s, to_attribute};
use super::compact_history::HistoryFormat;
use super::errors::{build_error, dynamo_error, written};
use super::item_size::{MAX_ITEM_BYTES, item_size};
use super::keys::*;
use super::task_item::*;
use tel_core::domain::{
    Assignee, SearchEntries, TaskInstance, TaskInstanceId, TaskStatus, Transition,
};
use tel_core::ports::{
    Created, Due, ErrorClass, Page, PageRequest, StoreError, TaskFilter, TaskStore, ViewCount,
    ViewPage, ViewQuery,
};

pub const DEFAULT_DEADLINE_SHARDS: u16 = 8;
/// Keys per BatchGetItem call (the service's limit).
const BATCH_GET_KEYS: usize = 100;

#[derive(Clone)]
pub struct DynamoTaskStore {
    client: Client,
    table: String,
    deadline_shards: u16,
    history_format: HistoryFormat,
}

impl DynamoTaskStore {
    async fn read(
        &self,
        id: TaskInstanceId,
        consistent: bool,
    ) -> Result<Option<TaskInstance>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", &self.table, e))?;
        out.item.as_ref().map(task_from_item).transpose()
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            deadline_shards: DEFAULT_DEADLINE_SHARDS,
            history_format: HistoryFormat::default(),
        }
    }

    pub fn with_deadline_shards(mut self, shards: u16) -> Self {
        self.deadline_shards = shards.max(1);
        self
    }

    /// How task histories are written (both are read).
    pub fn with_history_format(mut self, format: HistoryFormat) -> Self {
        self.history_format = format;
        self
    }

    pub fn deadline_shards(&self) -> u16 {
        self.deadline_shards
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn key(id: TaskInstanceId) -> Item {
        Item::from([(PK.to_owned(), s(task_pk(id))), (SK.to_owned(), s(TASK_SK))])
    }

    /// Tasks by id, in the order asked, with BatchGetItem (eventually
    /// consistent: for listings, which read the index first). Missing ones
    /// (deleted since the index was read) are left out.
    pub async fn get_many(&self, ids: &[TaskInstanceId]) -> Result<Vec<TaskInstance>, StoreError> {
        let mut found = std::collections::HashMap::new();
        for chunk in ids.chunks(BATCH_GET_KEYS) {
            let mut keys: Vec<Item> = chunk.iter().map(|id| Self::key(*id)).collect();
            for round in 0..6 {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .build()
                    .map_err(build_error)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| dynamo_error("BatchGetItem", &self.table, e))?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let task = task_from_item(&item)?;
                    found.insert(task.task_instance_id, task);
                }
                keys = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if keys.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25 << round)).await;
            }
            if !keys.is_empty() {
                return Err(StoreError::Unavailable(format!(
                    "{} task reads left unprocessed",
                    keys.len()
                )));
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// Moves a task's wake-up (and replaces its deadlines, when given),
    /// conditional on its version.
    async fn update_wake(
        &self,
        task: &TaskInstance,
        wake_at: Option<DateTime<Utc>>,
        deadlines: Option<AttributeValue>,
    ) -> Result<(), StoreError> {
        let id = task.task_instance_id;
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(task.version));
        let (update, set_deadlines) = match deadlines {
            Some(d) => (
                update
                    .expression_attribute_names("#deadlines", "deadlines")
                    .expression_attribute_values(":deadlines", d),
                "#deadlines = :deadlines",
            ),
            None => (update, ""),
        };
        let update = match wake_at {
            Some(at) => {
                let keys = wake_keys(id, at, self.deadline_shards);
                let sets = [set_deadlines, "GSI3PK = :pk, GSI3SK = :sk"]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ");
                update
                    .update_expression(format!("SET {sets}"))
                    .expression_attribute_values(":pk", keys[GSI3PK].clone())
                    .expression_attribute_values(":sk", keys[GSI3SK].clone())
            }
            None if set_deadlines.is_empty() => update.update_expression("REMOVE GSI3PK, GSI3SK"),
            None => update.update_expression(format!("SET {set_deadlines} REMOVE GSI3PK, GSI3SK")),
        };
        if written(update.send().await, "UpdateItem", &self.table)? {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                task_instance_id: id,
                expected_status: task.status,
                expected_version: task.version,
            })
        }
    }
}

/// A write DynamoDB refused (`ValidationException`) of an item over its size
/// limit is the item's size, said as such; other errors stay as they are.
fn too_large(error: StoreError, bytes: usize) -> StoreError {
    match error {
        StoreError::Aws(e)
            if e.class == ErrorClass::Refused
                && e.code.as_deref() == Some("ValidationException")
                && bytes > MAX_ITEM_BYTES =>
        {
            StoreError::TooLarge {
                bytes,
                limit: MAX_ITEM_BYTES,
                source: e,
            }
        }
        other => other,
    }
}

#[async_trait]
impl TaskStore for DynamoTaskStore {
    async fn create(&self, task: &TaskInstance) -> Result<Created, StoreError> {
        let item = task_to_item(task, self.deadline_shards, self.history_format);
        let bytes = item_size(&item);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created {
                task: task.clone(),
                created: true,
            }),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(e)) => {
                    let existing = match e.item() {
                        Some(item) => Some(task_from_item(item)?),
                        None => self.get(task.task_instance_id).await?,
                    };
                    let task = existing.ok_or_else(|| {
                        StoreError::Unavailable(format!(
                            "task {} exists but could not be read yet; retry",
                            task.task_instance_id
                        ))
                    })?;
                    Ok(Created {
                        task,
                        created: false,
                    })
                }
                _ => Err(too_large(dynamo_error("PutItem", &self.table, err), bytes)),
            },
        }
    }

    async fn get(&self, id: TaskInstanceId) -> Result<Option<TaskInstance>, StoreError> {
        self.read(id, true).await
    }

    async fn get_recent(&self, id: TaskInstanceId) -> Result<Option<TaskInstance>, StoreError> {
        self.read(id, false).await
    }

    async fn commit(&self, transition: &Transition) -> Result<(), StoreError> {
        let task = &transition.task;
        let item = task_to_item(task, self.deadline_shards, self.history_format);
        let bytes = item_size(&item);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#status = :status AND #version = :version")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":status", s(transition.expected_status.as_str()))
            .expression_attribute_values(":version", n(transition.expected_version))
            .send()
            .await;
        if written(result, "PutItem", &self.table).map_err(|e| too_large(e, bytes))? {
            Ok(())
        } else {
            Err(StoreError::Conflict {
                task_instance_id: task.task_instance_id,
                expected_status: transition.expected_status,
                expected_version: transition.expected_version,
            })
        }
    }

    async fn reschedule(
        &self,
        task: &TaskInstance,
        wake_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.update_wake(task, wake_at, None).await
    }

    async fn update_deadlines(&self, task: &TaskInstance) -> Result<(), StoreError> {
        let deadlines = serde_json::to_value(&task.deadlines).expect("deadlines serialise");
        self.update_wake(task, task.wake_at, Some(to_attribute(&deadlines)))
            .await
    }

    async fn list(
        &self,
        filter: &TaskFilter,
        page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError> {
        self.list_tasks(filter, page).await
    }

    async fn inbox(
        &self,
        assignees: &[Assignee],
        status: Option<TaskStatus>,
        page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError> {
        let ids =
            super::inbox::merged_inbox(&self.client, &self.table, assignees, status, page).await?;
        // The index holds keys only (a copy of every task would cost a write
        // per transition): the page's tasks are read in one batch.
        Ok(Page {
            items: self.get_many(&ids.items).await?,
            next_cursor: ids.next_cursor,
        })
    }

    async fn view(&self, query: &ViewQuery) -> Result<ViewPage, StoreError> {
        let ids = super::views::view(&self.client, &self.table, query).await?;
        // An index read may trail the table: a task that left the view since
        // (claimed, completed a moment ago) is not shown.
        let mut items = self.get_many(&ids.items).await?;
        items.retain(|task| query.admits(task));
        Ok(Page {
            items,
            next_cursor: ids.next_cursor,
        })
    }

    async fn view_count(&self, query: &ViewQuery) -> Result<ViewCount, StoreError> {
        super::views::view_count(&self.client, &self.table, query).await
    }

    async fn file_search(
        &self,
        id: TaskInstanceId,
        before: Option<&SearchEntries>,
        after: Option<&SearchEntries>,
    ) -> Result<(), StoreError> {
        super::search_entries::file(&self.client, &self.table, id, before, after).await
    }

    async fn due(
        &self,
        shard: u16,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<Due>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DEADLINE_INDEX)
            .key_condition_expression("GSI3PK = :pk AND GSI3SK <= :now")
            .expression_attribute_values(":pk", s(deadline_pk(shard)))
            .expression_attribute_values(":now", s(deadline_sk(now)))
            .limit(limit.max(1))
            .send()
            .await
            .map_err(|e| dynamo_error("Query", &self.table, e))?;
        out.items()
            .iter()
            .map(|item| {
                Ok(Due {
                    task_instance_id: task_id_of(item)?,
                    at_millis: get_s(item, GSI3SK)
                        .and_then(deadline_millis)
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!("deadline index entry {item:?}"))
                        })?,
                })
            })
            .collect()
    }
}
