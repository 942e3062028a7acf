//! The notice ledger in the single table: one item per notice
//! (`NOTICE#<key>` / `NOTICE`), claimed with a conditional write before the
//! notice is sent and marked `sent` after; the table's TTL removes it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::attributes::{get_s, n, s};
use super::errors::{dynamo_error, written};
use super::keys::{EXPIRES_AT, PK, SK};
use super::task_store::DynamoTaskStore;
use tel_core::ports::{NoticeClaim, NoticeLedger, StoreError};

const NOTICE: &str = "NOTICE";
const SENT: &str = "sent";

fn notice_pk(key: &str) -> String {
    format!("NOTICE#{key}")
}

#[async_trait]
impl NoticeLedger for DynamoTaskStore {
    async fn claim(
        &self,
        key: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<NoticeClaim, StoreError> {
        let claimed = self
            .client()
            .put_item()
            .table_name(self.table())
            .item(PK, s(notice_pk(key)))
            .item(SK, s(NOTICE))
            .item("itemType", s("notice"))
            .item("state", s("sending"))
            .item("claimedAt", n(now.timestamp_millis()))
            .item(EXPIRES_AT, n(expires_at.timestamp()))
            // New, or a claim whose sender died before marking it sent.
            .condition_expression(
                "attribute_not_exists(PK) OR (#state <> :sent AND claimedAt < :stale)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sent", s(SENT))
            .expression_attribute_values(":stale", n(stale_before.timestamp_millis()))
            .send()
            .await;
        if written(claimed, "PutItem", self.table())? {
            return Ok(NoticeClaim::Claimed);
        }
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PK, s(notice_pk(key)))
            .key(SK, s(NOTICE))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", self.table(), e))?;
        Ok(match out.item.as_ref().and_then(|i| get_s(i, "state")) {
            Some(SENT) => NoticeClaim::Sent,
            _ => NoticeClaim::Busy,
        })
    }

    async fn mark_sent(&self, key: &str, claimed_at: DateTime<Utc>) -> Result<(), StoreError> {
        let marked = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(notice_pk(key)))
            .key(SK, s(NOTICE))
            .update_expression("SET #state = :sent")
            // Only the claim this sender made: never one taken over, never a new item.
            .condition_expression("claimedAt = :mine")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sent", s(SENT))
            .expression_attribute_values(":mine", n(claimed_at.timestamp_millis()))
            .send()
            .await;
        written(marked, "UpdateItem", self.table()).map(|_| ())
    }

    async fn release(&self, key: &str, claimed_at: DateTime<Utc>) -> Result<(), StoreError> {
        let released = self
            .client()
            .delete_item()
            .table_name(self.table())
            .key(PK, s(notice_pk(key)))
            .key(SK, s(NOTICE))
            .condition_expression("#state <> :sent AND claimedAt = :mine")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":sent", s(SENT))
            .expression_attribute_values(":mine", n(claimed_at.timestamp_millis()))
            .send()
            .await;
        written(released, "DeleteItem", self.table()).map(|_| ())
    }
}
