//! Assignment state in the single table: counters as atomic `ADD`s, load
//! as a count over the inbox index.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure, Select};

use super::attributes::{n, s};
use super::errors::dynamo_error;
use super::keys::*;
use super::task_store::DynamoTaskStore;
use tel_core::domain::{Assignee, AssigneeType, TaskStatus};
use tel_core::ports::{AssignmentState, StoreError};

#[async_trait]
impl AssignmentState for DynamoTaskStore {
    /// One conditional `UpdateItem`, no more write units than a bare `ADD`:
    /// the counter item remembers its last taker, and the same taker asking
    /// again is refused the increment and handed the turn it holds.
    async fn next_turn(&self, counter: &str, taker: &str) -> Result<u64, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(format!("COUNTER#{counter}")))
            .key(SK, s("COUNTER"))
            .update_expression("ADD turns :one SET itemType = :type, lastTaker = :taker")
            .condition_expression("attribute_not_exists(lastTaker) OR lastTaker <> :taker")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":type", s("counter"))
            .expression_attribute_values(":taker", s(taker))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let turns = match result {
            Ok(out) => out.attributes,
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(held)) => held.item.clone(),
                _ => return Err(dynamo_error("UpdateItem", self.table(), err)),
            },
        };
        turns
            .as_ref()
            .and_then(|a| a.get("turns"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("counter {counter} has no turns")))
    }

    async fn open_tasks(&self, user: &str) -> Result<u64, StoreError> {
        let assignee = Assignee {
            kind: AssigneeType::User,
            id: user.to_owned(),
        };
        let mut total = 0u64;
        for status in [TaskStatus::Assigned, TaskStatus::Claimed] {
            let mut start = None;
            loop {
                let out = self
                    .client()
                    .query()
                    .table_name(self.table())
                    .index_name(INBOX_INDEX)
                    .key_condition_expression("GSI1PK = :pk AND begins_with(GSI1SK, :status)")
                    .expression_attribute_values(":pk", s(inbox_pk(&assignee)))
                    .expression_attribute_values(":status", s(format!("{status}#")))
                    .select(Select::Count)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| dynamo_error("Query", self.table(), e))?;
                total += out.count().max(0) as u64;
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(total)
    }
}
