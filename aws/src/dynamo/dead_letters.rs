//! Dead-letter notes in the single table: `DLQ#<queue>` / `<message id>`,
//! expiring with the dead-letter queue's retention (14 days).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::attributes::{Item, get_s, n, s};
use super::errors::dynamo_error;
use super::keys::*;
use super::query_all::query_all;
use super::task_store::DynamoTaskStore;
use tel_core::domain::TaskInstanceId;
use tel_core::ports::{DeadLetterLog, DeadLetterNote, StoreError};

const RETENTION_DAYS: i64 = 14;

fn note_from(item: &Item) -> Option<DeadLetterNote> {
    Some(DeadLetterNote {
        queue: get_s(item, "queue")?.to_owned(),
        message_id: get_s(item, SK)?.to_owned(),
        reason: get_s(item, "reason")?.to_owned(),
        task_instance_id: get_s(item, "taskInstanceId").and_then(|t| TaskInstanceId::parse(t).ok()),
        receive_count: item
            .get("receiveCount")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        at: get_s(item, "at").and_then(|t| t.parse::<DateTime<Utc>>().ok())?,
    })
}

#[async_trait]
impl DeadLetterLog for DynamoTaskStore {
    async fn note(&self, note: &DeadLetterNote) -> Result<(), StoreError> {
        let mut item = Item::from([
            (PK.to_owned(), s(format!("DLQ#{}", note.queue))),
            (SK.to_owned(), s(&note.message_id)),
            (ITEM_TYPE.to_owned(), s("deadLetter")),
            ("queue".to_owned(), s(&note.queue)),
            ("reason".to_owned(), s(&note.reason)),
            ("receiveCount".to_owned(), n(note.receive_count)),
            ("at".to_owned(), s(note.at.to_rfc3339())),
            (
                EXPIRES_AT.to_owned(),
                n((note.at + chrono::Duration::days(RETENTION_DAYS)).timestamp()),
            ),
        ]);
        if let Some(id) = note.task_instance_id {
            item.insert("taskInstanceId".to_owned(), s(id.to_string()));
        }
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", self.table(), e))?;
        Ok(())
    }

    async fn notes(&self, queue: &str) -> Result<Vec<DeadLetterNote>, StoreError> {
        let query = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(format!("DLQ#{queue}")));
        let items = query_all(query, self.table()).await?;
        let mut notes: Vec<DeadLetterNote> = items.iter().filter_map(note_from).collect();
        notes.sort_by_key(|n| n.at);
        Ok(notes)
    }
}
