//! An inbox spans partitions: the user's own and each of their groups'. Each
//! partition is read in sort-key order and the results merged; the cursor
//! records, per partition, the last sort key handed out (or that it is done),
//! so every task appears exactly once across pages.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;

use super::attributes::{Item, get_s, s};
use super::errors::dynamo_error;
use super::keys::*;
use super::task_item::task_id_of;
use tel_core::domain::{Assignee, TaskInstanceId, TaskStatus};
use tel_core::ports::INBOX_PAGE;
use tel_core::ports::{Page, PageRequest, StoreError};

/// Sorts after every `<millis>#<id>` (digits, hex digits and dashes).
const AFTER_ANY_ID: &str = "~";

/// Per partition: `Some(last key handed out)`, `None` for "done"; absent means "from the start".
type Positions = BTreeMap<String, Option<String>>;

fn encode(positions: &Positions) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(positions).expect("positions serialise"))
}

fn decode(cursor: &str) -> Result<Positions, StoreError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| StoreError::InvalidCursor)
}

/// The ids of one page of the inbox of `assignees` in `table`; the caller
/// reads the tasks (the index holds keys only).
pub async fn merged_inbox(
    client: &Client,
    table: &str,
    assignees: &[Assignee],
    status: Option<TaskStatus>,
    page: PageRequest,
) -> Result<Page<TaskInstanceId>, StoreError> {
    let limit = page.size(INBOX_PAGE);
    let mut positions = page
        .cursor
        .as_deref()
        .map(decode)
        .transpose()?
        .unwrap_or_default();
    let mut candidates: Vec<(String, String, Item)> = Vec::new();
    let mut exhausted: Vec<String> = Vec::new();
    for assignee in assignees {
        let pk = inbox_pk(assignee);
        let after = match positions.get(&pk) {
            Some(None) => continue,
            Some(Some(after)) => Some(after.clone()),
            None => None,
        };
        let (items, more) =
            read_partition(client, table, &pk, status, after.as_deref(), limit).await?;
        if !more {
            exhausted.push(pk.clone());
        }
        candidates.extend(items.into_iter().map(|item| {
            (
                get_s(&item, GSI1SK).unwrap_or_default().to_owned(),
                pk.clone(),
                item,
            )
        }));
    }
    candidates.sort_by(|a, b| a.0.cmp(&b.0));
    let taken: Vec<(String, String, Item)> =
        candidates.iter().take(limit as usize).cloned().collect();
    for pk in assignees.iter().map(inbox_pk) {
        let from_here: Vec<&(String, String, Item)> =
            candidates.iter().filter(|c| c.1 == pk).collect();
        let taken_here: Vec<&(String, String, Item)> = taken.iter().filter(|c| c.1 == pk).collect();
        if let Some(last) = taken_here.last() {
            positions.insert(pk.clone(), Some(last.0.clone()));
        }
        if exhausted.contains(&pk) && taken_here.len() == from_here.len() {
            positions.insert(pk, None);
        }
    }
    let done = assignees
        .iter()
        .all(|a| matches!(positions.get(&inbox_pk(a)), Some(None)));
    let ids = taken
        .iter()
        .map(|(_, _, item)| task_id_of(item))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        items: ids,
        next_cursor: (!done).then(|| encode(&positions)),
    })
}

/// Up to `limit` items of one partition after `after`; and whether more may follow.
async fn read_partition(
    client: &Client,
    table: &str,
    pk: &str,
    status: Option<TaskStatus>,
    after: Option<&str>,
    limit: i32,
) -> Result<(Vec<Item>, bool), StoreError> {
    let mut query = client
        .query()
        .table_name(table)
        .index_name(INBOX_INDEX)
        .expression_attribute_values(":pk", s(pk));
    query = match (status, after) {
        (None, None) => query.key_condition_expression("GSI1PK = :pk"),
        (None, Some(after)) => query
            .key_condition_expression("GSI1PK = :pk AND GSI1SK > :after")
            .expression_attribute_values(":after", s(after)),
        (Some(status), None) => query
            .key_condition_expression("GSI1PK = :pk AND begins_with(GSI1SK, :status)")
            .expression_attribute_values(":status", s(format!("{status}#"))),
        // BETWEEN is inclusive: the item at `after` comes back and is dropped below.
        (Some(status), Some(after)) => query
            .key_condition_expression("GSI1PK = :pk AND GSI1SK BETWEEN :after AND :upper")
            .expression_attribute_values(":after", s(after))
            .expression_attribute_values(
                ":upper",
                AttributeValue::S(format!("{status}#{AFTER_ANY_ID}")),
            ),
    };
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = query
            .clone()
            .limit(limit + 1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| dynamo_error("Query", table, e))?;
        items.extend(
            out.items
                .unwrap_or_default()
                .into_iter()
                .filter(|i| Some(get_s(i, GSI1SK).unwrap_or_default()) != after),
        );
        start = out.last_evaluated_key;
        if items.len() > limit as usize || start.is_none() {
            break;
        }
    }
    let more = items.len() > limit as usize || start.is_some();
    items.truncate(limit as usize);
    Ok((items, more))
}
