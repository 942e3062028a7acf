//! `BatchWriteItem` of any number of requests: 25 at a time, what DynamoDB
//! leaves unprocessed (throttled) retried with back-off.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::WriteRequest;

use super::errors::dynamo_error;
use tel_core::ports::StoreError;

/// BatchWriteItem takes at most this many requests.
pub const BATCH: usize = 25;
/// Rounds of retrying what DynamoDB left unprocessed before giving up for now.
const ROUNDS: u32 = 5;

/// Writes every request; `what` names them in the error when some stay
/// unprocessed (a transient `Unavailable`: the caller tries again later).
pub async fn write_all(
    client: &Client,
    table: &str,
    writes: Vec<WriteRequest>,
    what: &str,
) -> Result<(), StoreError> {
    for chunk in writes.chunks(BATCH) {
        let mut pending = chunk.to_vec();
        for round in 0.. {
            let out = client
                .batch_write_item()
                .request_items(table, pending)
                .send()
                .await
                .map_err(|e| dynamo_error("BatchWriteItem", table, e))?;
            pending = out
                .unprocessed_items
                .and_then(|mut left| left.remove(table))
                .unwrap_or_default();
            if pending.is_empty() {
                break;
            }
            if round + 1 == ROUNDS {
                return Err(StoreError::Unavailable(format!(
                    "{} {what} left unprocessed (throttled)",
                    pending.len()
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 << round)).await;
        }
    }
    Ok(())
}
