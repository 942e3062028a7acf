//! Bulk operations in the table: each operation one item under
//! `OPERATIONS` (its id, a UUIDv7, as the sort key: newest last), what it
//! did to each task one item under `OP#<id>`, both expiring after
//! `RETENTION_DAYS`. Tasks are selected from the sparse `operations` index
//! (`OPS#<definition>#<status>`, then error code, time, version and id),
//! read in proportion to what the selection covers, never the table.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::Duration;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::attributes::{Item, decode_cursor, encode_cursor, get_s, n, s};
use super::batch_write::write_all;
use super::errors::{build_error, dynamo_error, written};
use super::keys::*;
use super::task_store::DynamoTaskStore;
use tel_core::domain::operation::{Operation, OperationState, Selection, TaskOutcome};
use tel_core::domain::sortable;
use tel_core::ports::{
    MATCH_COUNT_CAP, MatchCount, OperationStore, Page, PageRequest, PageSize, Saved, Selected,
    SelectedPage, StoreError,
};

/// How long an operation and its outcomes are kept (TTL).
const RETENTION_DAYS: i64 = 90;
const RECORD: &str = "record";
/// Queries one count makes at most (1,000 index entries each).
const MAX_COUNT_QUERIES: usize = 200;
const STATE: &str = "state";
const VERSION: &str = "version";

const OPERATIONS_PAGE: PageSize = PageSize {
    default: 20,
    max: 100,
};
const OUTCOMES_PAGE: PageSize = PageSize {
    default: 100,
    max: 500,
};

fn record<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("operations serialise")
}

fn read<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let text = get_s(item, RECORD)
        .ok_or_else(|| StoreError::Corrupt("an operation item without its record".into()))?;
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("operation record: {e}")))
}

fn state_name(state: OperationState) -> &'static str {
    match state {
        OperationState::Running => "RUNNING",
        OperationState::Stopped => "STOPPED",
        OperationState::Done => "DONE",
        OperationState::Failed => "FAILED",
    }
}

/// Running operations are also in the operations index under this
/// partition (sparse: an operation leaves it when it ends), so the runner
/// reads the running ones, never every operation kept.
const RUNNING_PK: &str = "OPERATIONS#RUNNING";

fn operation_item(operation: &Operation) -> Item {
    let expires = operation.created_at + Duration::days(RETENTION_DAYS);
    let mut item = operation_record(operation, expires);
    if operation.is_running() {
        item.insert(GSI7PK.to_owned(), s(RUNNING_PK));
        item.insert(GSI7SK.to_owned(), s(&operation.operation_id));
    }
    item
}

fn operation_record(operation: &Operation, expires: chrono::DateTime<chrono::Utc>) -> Item {
    Item::from([
        (PK.to_owned(), s(OPERATIONS_PK)),
        (SK.to_owned(), s(&operation.operation_id)),
        (ITEM_TYPE.to_owned(), s("operation")),
        (RECORD.to_owned(), s(record(operation))),
        (STATE.to_owned(), s(state_name(operation.state))),
        (VERSION.to_owned(), n(operation.version)),
        (EXPIRES_AT.to_owned(), n(expires.timestamp())),
    ])
}

/// Where a selection goes on: the index of the status being read, and the
/// last key read in it (none: from its start).
struct Position {
    status: usize,
    after: Option<Item>,
}

impl Position {
    fn parse(cursor: Option<&str>, statuses: usize) -> Result<Self, StoreError> {
        let Some(cursor) = cursor else {
            return Ok(Self {
                status: 0,
                after: None,
            });
        };
        let (status, after) = cursor.split_once(':').ok_or(StoreError::InvalidCursor)?;
        let status: usize = status.parse().map_err(|_| StoreError::InvalidCursor)?;
        if status >= statuses {
            return Err(StoreError::InvalidCursor);
        }
        let after = (!after.is_empty())
            .then(|| decode_cursor(after))
            .transpose()?;
        Ok(Self { status, after })
    }

    fn encode(&self) -> String {
        format!(
            "{}:{}",
            self.status,
            self.after.as_ref().map(encode_cursor).unwrap_or_default()
        )
    }
}

impl DynamoTaskStore {
    /// One Query of the selection's index partition for the status at
    /// `position`: the matching ids, and where to go on.
    async fn select_step(
        &self,
        selection: &Selection,
        position: Position,
        limit: usize,
    ) -> Result<SelectedPage, StoreError> {
        let status = selection.statuses[position.status];
        let mut query = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(OPERATIONS_INDEX)
            .expression_attribute_values(":pk", s(operations_pk(&selection.definition, status)))
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(position.after);
        query = match &selection.error_code {
            // One code: only its time range is read.
            Some(code) => {
                let since = selection.since.map(sortable::time).unwrap_or_default();
                query
                    .key_condition_expression("GSI7PK = :pk AND GSI7SK BETWEEN :low AND :high")
                    .expression_attribute_values(":low", s(format!("{code}#{since}")))
                    .expression_attribute_values(
                        ":high",
                        s(format!("{code}#{}#~", sortable::time(selection.until))),
                    )
            }
            None => query.key_condition_expression("GSI7PK = :pk"),
        };
        let out = query
            .send()
            .await
            .map_err(|e| dynamo_error("Query", self.table(), e))?;
        let found = out
            .items()
            .iter()
            .filter_map(|item| {
                let (entry, id) = parse_operations_key(get_s(item, GSI7PK)?, get_s(item, GSI7SK)?)?;
                // A keys-only index answers with exactly the keys a Query resumes from.
                let after = Position {
                    status: position.status,
                    after: Some(item.clone()),
                };
                selection.matches_entry(&entry).then(|| Selected {
                    id,
                    after: after.encode(),
                })
            })
            .collect();
        let next = match out.last_evaluated_key {
            Some(key) => Some(Position {
                status: position.status,
                after: Some(key),
            }),
            None if position.status + 1 < selection.statuses.len() => Some(Position {
                status: position.status + 1,
                after: None,
            }),
            None => None,
        };
        Ok(SelectedPage {
            found,
            next: next.map(|p| p.encode()),
        })
    }

    async fn query_page<T: DeserializeOwned>(
        &self,
        pk: String,
        newest_first: bool,
        page: PageRequest,
        size: PageSize,
    ) -> Result<Page<T>, StoreError> {
        let start = page.cursor.as_deref().map(decode_cursor).transpose()?;
        if start
            .as_ref()
            .is_some_and(|key| get_s(key, PK) != Some(pk.as_str()))
        {
            return Err(StoreError::InvalidCursor);
        }
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(!newest_first)
            .limit(page.size(size))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| dynamo_error("Query", self.table(), e))?;
        Ok(Page {
            items: out.items().iter().map(read).collect::<Result<_, _>>()?,
            next_cursor: out.last_evaluated_key.as_ref().map(encode_cursor),
        })
    }
}

#[async_trait]
impl OperationStore for DynamoTaskStore {
    async fn create_operation(&self, operation: &Operation) -> Result<(), StoreError> {
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(operation_item(operation)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", self.table(), e))?;
        Ok(())
    }

    async fn operation(&self, id: &str) -> Result<Option<Operation>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PK, s(OPERATIONS_PK))
            .key(SK, s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", self.table(), e))?;
        out.item.as_ref().map(read).transpose()
    }

    async fn operations(&self, page: PageRequest) -> Result<Page<Operation>, StoreError> {
        self.query_page(OPERATIONS_PK.to_owned(), true, page, OPERATIONS_PAGE)
            .await
    }

    async fn running_operations(&self) -> Result<Vec<Operation>, StoreError> {
        let query = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(OPERATIONS_INDEX)
            .key_condition_expression("GSI7PK = :pk")
            .expression_attribute_values(":pk", s(RUNNING_PK));
        let mut running = Vec::new();
        // The index is eventually consistent: each is read afresh.
        for key in super::query_all::query_all(query, self.table()).await? {
            if let Some(id) = get_s(&key, SK)
                && let Some(operation) = self.operation(id).await?
                && operation.is_running()
            {
                running.push(operation);
            }
        }
        Ok(running)
    }

    async fn save_operation(
        &self,
        operation: &Operation,
        expected_version: u64,
    ) -> Result<Saved, StoreError> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(operation_item(operation)))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":expected", n(expected_version))
            .send()
            .await;
        Ok(
            match written::<_, PutItemError>(result, "PutItem", self.table())? {
                true => Saved::Saved,
                false => Saved::Superseded,
            },
        )
    }

    async fn select(
        &self,
        selection: &Selection,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SelectedPage, StoreError> {
        // Nothing to read (and BETWEEN would refuse its bounds).
        if selection.statuses.is_empty() || selection.is_empty_range() {
            return Ok(SelectedPage {
                found: Vec::new(),
                next: None,
            });
        }
        let position = Position::parse(cursor, selection.statuses.len())?;
        self.select_step(selection, position, limit).await
    }

    async fn count_matching(&self, selection: &Selection) -> Result<MatchCount, StoreError> {
        let mut count = 0u64;
        let mut cursor = None;
        // Entries are read 1,000 a Query; a filter decided in code (a version,
        // a time without an error code) may read many for few matches, so
        // the reading is bounded too.
        for _ in 0..MAX_COUNT_QUERIES {
            let page = self.select(selection, cursor.as_deref(), 1000).await?;
            count += page.found.len() as u64;
            if count >= MATCH_COUNT_CAP {
                return Ok(MatchCount {
                    count: MATCH_COUNT_CAP,
                    capped: true,
                });
            }
            cursor = page.next;
            if cursor.is_none() {
                return Ok(MatchCount {
                    count,
                    capped: false,
                });
            }
        }
        Ok(MatchCount {
            count,
            capped: true,
        })
    }

    async fn record_outcomes(
        &self,
        operation_id: &str,
        outcomes: &[TaskOutcome],
    ) -> Result<(), StoreError> {
        let writes = outcomes
            .iter()
            .map(|outcome| {
                let item = Item::from([
                    (PK.to_owned(), s(operation_outcomes_pk(operation_id))),
                    (SK.to_owned(), s(task_pk(outcome.task_instance_id))),
                    (ITEM_TYPE.to_owned(), s("operationOutcome")),
                    (RECORD.to_owned(), s(record(outcome))),
                    (
                        EXPIRES_AT.to_owned(),
                        n((outcome.at + Duration::days(RETENTION_DAYS)).timestamp()),
                    ),
                ]);
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(build_error)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        write_all(
            self.client(),
            self.table(),
            writes,
            &format!("outcomes of operation {operation_id}"),
        )
        .await
    }

    async fn outcomes(
        &self,
        operation_id: &str,
        page: PageRequest,
    ) -> Result<Page<TaskOutcome>, StoreError> {
        self.query_page(
            operation_outcomes_pk(operation_id),
            false,
            page,
            OUTCOMES_PAGE,
        )
        .await
    }
}
