//! Concurrency slots in the single table: one item per pool (`SLOTS` /
//! `<pool>`) whose `holders` string set names the tasks holding a slot.
//! Acquiring is a conditional `ADD` (room left, or already a holder), so
//! concurrent executors never exceed the limit. Rate limits count calls per
//! one-second window (`RATE#<key>` / `<second>`), expiring with TTL.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::attributes::{n, s};
use super::errors::{dynamo_error, written};
use super::keys::*;
use super::query_all::query_all;
use super::task_store::DynamoTaskStore;
use tel_core::domain::TaskInstanceId;
use tel_core::ports::{ConcurrencySlots, StoreError};

const SLOTS_PK: &str = "SLOTS";

#[async_trait]
impl ConcurrencySlots for DynamoTaskStore {
    async fn acquire(
        &self,
        pool: &str,
        holder: TaskInstanceId,
        max: u32,
    ) -> Result<bool, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(SLOTS_PK))
            .key(SK, s(pool))
            .update_expression("ADD holders :holder SET itemType = :type")
            .condition_expression(
                "attribute_not_exists(holders) OR size(holders) < :max OR contains(holders, :id)",
            )
            .expression_attribute_values(":holder", AttributeValue::Ss(vec![holder.to_string()]))
            .expression_attribute_values(":id", s(holder.to_string()))
            .expression_attribute_values(":max", n(max))
            .expression_attribute_values(":type", s("slots"))
            .send()
            .await;
        written(result, "UpdateItem", self.table())
    }

    async fn release(&self, pool: &str, holder: TaskInstanceId) -> Result<(), StoreError> {
        self.client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(SLOTS_PK))
            .key(SK, s(pool))
            .update_expression("DELETE holders :holder")
            .expression_attribute_values(":holder", AttributeValue::Ss(vec![holder.to_string()]))
            .send()
            .await
            .map_err(|e| dynamo_error("UpdateItem", self.table(), e))?;
        Ok(())
    }

    async fn take_rate(&self, key: &str, window: i64, limit: u32) -> Result<bool, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(format!("RATE#{key}")))
            .key(SK, s(window.to_string()))
            .update_expression("ADD hits :one SET itemType = :type, expiresAt = :expires")
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":type", s("rate"))
            .expression_attribute_values(":expires", n(window + 120))
            .send()
            .await;
        written(result, "UpdateItem", self.table())
    }

    async fn pools(&self) -> Result<Vec<(String, Vec<TaskInstanceId>)>, StoreError> {
        let query = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(SLOTS_PK))
            .consistent_read(true);
        let mut pools = Vec::new();
        for item in &query_all(query, self.table()).await? {
            let pool = item
                .get(SK)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let holders = item
                .get("holders")
                .and_then(|v| v.as_ss().ok())
                .map(|ids| {
                    ids.iter()
                        .filter_map(|id| TaskInstanceId::parse(id).ok())
                        .collect()
                })
                .unwrap_or_default();
            pools.push((pool, holders));
        }
        Ok(pools)
    }
}
