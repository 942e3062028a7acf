//! `TaskStore` over the single DynamoDB table.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{DeleteRequest, Put, TransactWriteItem, WriteRequest};
use chrono::{DateTime, Utc};

use super::attributes::{Item, decode_cursor, encode_cursor, get_s, n, s};
use super::errors::{build_error, failed_condition, unavailable};
use super::keys::*;
use super::task_item::*;
use crate::domain::{
    Assignee, Creation, HistoryEntry, TaskEvent, TaskInstance, TaskInstanceId, TaskStatus,
    Transition,
};
use crate::ports::{Created, DueItem, Page, PageRequest, StoreError, TaskStore};

pub const DEFAULT_DEADLINE_SHARDS: u16 = 8;
const DEFAULT_PAGE: i32 = 50;
const MAX_PAGE: i32 = 500;

#[derive(Clone)]
pub struct DynamoTaskStore {
    client: Client,
    table: String,
    deadline_shards: u16,
    /// How long an unpublished outbox event waits before the sweeper republishes it.
    outbox_grace: Duration,
    idempotency_ttl: Duration,
}

impl DynamoTaskStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            deadline_shards: DEFAULT_DEADLINE_SHARDS,
            outbox_grace: Duration::from_secs(30),
            idempotency_ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }

    pub fn with_deadline_shards(mut self, shards: u16) -> Self {
        self.deadline_shards = shards.max(1);
        self
    }

    pub fn with_outbox_grace(mut self, grace: Duration) -> Self {
        self.outbox_grace = grace;
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

    fn put(&self, item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn side_items(
        &self,
        id: TaskInstanceId,
        history: &[HistoryEntry],
        events: &[TaskEvent],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let republish_at = Utc::now() + self.outbox_grace;
        let mut items = Vec::new();
        for entry in history {
            items.push(self.put(history_to_item(id, entry), Some("attribute_not_exists(PK)"))?);
        }
        for event in events {
            items.push(self.put(
                outbox_to_item(id, event, republish_at, self.deadline_shards),
                None,
            )?);
        }
        Ok(items)
    }

    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        Ok(out.item)
    }

    async fn existing_for_key(&self, key: &str) -> Result<TaskInstance, StoreError> {
        let item = self
            .get_item(idempotency_pk(key), "IDEM")
            .await?
            .ok_or_else(|| {
                StoreError::Unavailable(format!("idempotency key {key} vanished; retry"))
            })?;
        let id = get_s(&item, "taskInstanceId")
            .and_then(|t| TaskInstanceId::parse(t).ok())
            .ok_or_else(|| {
                StoreError::Corrupt(format!("idempotency record {key} names no task"))
            })?;
        self.get(id).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("idempotency key {key} names missing task {id}"))
        })
    }

    async fn query_page(
        &self,
        query: QueryFluentBuilder,
        page: PageRequest,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let start = page.cursor.as_deref().map(decode_cursor).transpose()?;
        let out = query
            .limit(page.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| unavailable("Query", e))?;
        let cursor = out.last_evaluated_key.as_ref().map(encode_cursor);
        Ok((out.items.unwrap_or_default(), cursor))
    }

    async fn task_page(
        &self,
        query: QueryFluentBuilder,
        page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError> {
        let (items, next_cursor) = self.query_page(query, page).await?;
        let items = items.iter().map(task_from_item).collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl TaskStore for DynamoTaskStore {
    async fn create(
        &self,
        creation: &Creation,
        idempotency_key: Option<&str>,
    ) -> Result<Created, StoreError> {
        let id = creation.task.task_instance_id;
        let mut items = vec![self.put(
            task_to_item(&creation.task, self.deadline_shards),
            Some("attribute_not_exists(PK)"),
        )?];
        items.extend(self.side_items(id, &creation.history, &creation.events)?);
        if let Some(key) = idempotency_key {
            let expires = Utc::now() + self.idempotency_ttl;
            items.push(self.put(
                idempotency_item(key, id, expires),
                Some("attribute_not_exists(PK)"),
            )?);
        }
        let idempotency_index = items.len() - 1;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created {
                task: creation.task.clone(),
                created: true,
            }),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                    match failed_condition(e.cancellation_reasons()) {
                        Some(0) => {
                            let task = self.get(id).await?.ok_or_else(|| {
                                StoreError::Unavailable(format!(
                                    "task {id} exists but could not be read yet; retry"
                                ))
                            })?;
                            Ok(Created {
                                task,
                                created: false,
                            })
                        }
                        Some(i) if i == idempotency_index && idempotency_key.is_some() => {
                            Ok(Created {
                                task: self
                                    .existing_for_key(idempotency_key.unwrap_or_default())
                                    .await?,
                                created: false,
                            })
                        }
                        _ => Err(unavailable("TransactWriteItems (create)", err)),
                    }
                }
                _ => Err(unavailable("TransactWriteItems (create)", err)),
            },
        }
    }

    async fn get(&self, id: TaskInstanceId) -> Result<Option<TaskInstance>, StoreError> {
        self.get_item(task_pk(id), TASK_SK)
            .await?
            .as_ref()
            .map(task_from_item)
            .transpose()
    }

    async fn history(&self, id: TaskInstanceId) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :h)")
                .expression_attribute_values(":pk", s(task_pk(id)))
                .expression_attribute_values(":h", s(HISTORY_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable("Query (history)", e))?;
            for item in out.items() {
                entries.push(history_from_item(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(entries);
            }
        }
    }

    async fn commit(&self, transition: &Transition) -> Result<(), StoreError> {
        let task = &transition.task;
        let id = task.task_instance_id;
        let guarded = Put::builder()
            .table_name(&self.table)
            .set_item(Some(task_to_item(task, self.deadline_shards)))
            .condition_expression("#status = :status AND #version = :version")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":status", s(transition.expected_status.as_str()))
            .expression_attribute_values(":version", n(transition.expected_version))
            .build()
            .map_err(build_error)?;
        let mut items = vec![TransactWriteItem::builder().put(guarded).build()];
        items.extend(self.side_items(
            id,
            std::slice::from_ref(&transition.history),
            &transition.events,
        )?);
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e))
                    if failed_condition(e.cancellation_reasons()).is_some() =>
                {
                    Err(StoreError::Conflict {
                        task_instance_id: id,
                        expected_status: transition.expected_status,
                        expected_version: transition.expected_version,
                    })
                }
                _ => Err(unavailable("TransactWriteItems (transition)", err)),
            },
        }
    }

    async fn clear_outbox(
        &self,
        id: TaskInstanceId,
        event_ids: &[String],
    ) -> Result<(), StoreError> {
        for chunk in event_ids.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|event_id| {
                    DeleteRequest::builder()
                        .key(PK, s(task_pk(id)))
                        .key(SK, s(outbox_sk(event_id)))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(build_error)
                })
                .collect::<Result<_, _>>()?;
            for round in 0..5 {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| unavailable("BatchWriteItem (outbox)", e))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50 << round)).await;
            }
            if !requests.is_empty() {
                return Err(StoreError::Unavailable(format!(
                    "{} outbox deletes unprocessed",
                    requests.len()
                )));
            }
        }
        Ok(())
    }

    async fn outbox_event(
        &self,
        id: TaskInstanceId,
        event_id: &str,
    ) -> Result<Option<TaskEvent>, StoreError> {
        self.get_item(task_pk(id), &outbox_sk(event_id))
            .await?
            .as_ref()
            .map(outbox_from_item)
            .transpose()
    }

    async fn tasks_of_workflow(
        &self,
        workflow_instance_id: &str,
        page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(WORKFLOW_INDEX)
            .key_condition_expression("GSI2PK = :pk")
            .expression_attribute_values(":pk", s(workflow_pk(workflow_instance_id)));
        self.task_page(query, page).await
    }

    async fn inbox(
        &self,
        assignees: &[Assignee],
        status: Option<TaskStatus>,
        page: PageRequest,
    ) -> Result<Page<TaskInstance>, StoreError> {
        super::inbox::merged_inbox(self, assignees, status, page).await
    }

    async fn due(
        &self,
        shard: u16,
        now: DateTime<Utc>,
        limit: i32,
    ) -> Result<Vec<DueItem>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DEADLINE_INDEX)
            .key_condition_expression("GSI3PK = :pk AND GSI3SK < :upper")
            .expression_attribute_values(":pk", s(deadline_pk(shard)))
            .expression_attribute_values(":upper", s(deadline_upper_bound(now)))
            .limit(limit.max(1))
            .send()
            .await
            .map_err(|e| unavailable("Query (deadlines)", e))?;
        out.items().iter().map(due_item).collect()
    }
}

fn due_item(item: &Item) -> Result<DueItem, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("deadline index entry {item:?}"));
    let id = get_s(item, PK)
        .and_then(|pk| pk.strip_prefix("TASK#"))
        .and_then(|id| TaskInstanceId::parse(id).ok())
        .ok_or_else(corrupt)?;
    let at_millis = get_s(item, GSI3SK)
        .and_then(deadline_millis)
        .ok_or_else(corrupt)?;
    let sk = get_s(item, SK).ok_or_else(corrupt)?;
    match sk.strip_prefix(OUTBOX_PREFIX) {
        Some(event_id) => Ok(DueItem::Outbox {
            task_instance_id: id,
            event_id: event_id.to_owned(),
            at_millis,
        }),
        None if sk == TASK_SK => Ok(DueItem::Task {
            task_instance_id: id,
            at_millis,
        }),
        None => Err(corrupt()),
    }
}
