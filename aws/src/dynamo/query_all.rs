//! A whole query answer, following its pages: for partitions read whole
//! (dead-letter notes, concurrency pools, a document's versions, the
//! catalogue), each small enough to hold.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::attributes::Item;
use super::errors::dynamo_error;
use tel_core::ports::StoreError;

/// Every item `query` answers, page after page.
pub async fn query_all(query: QueryFluentBuilder, table: &str) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = query
            .clone()
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| dynamo_error("Query", table, e))?;
        items.extend(out.items.unwrap_or_default());
        start = out.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}
