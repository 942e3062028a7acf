//! An inbox spans partitions: the user's own and each of their groups', and
//! a view may read two statuses of one. Each *lane* (an index partition,
//! narrowed to a key prefix and bounds) is read in sort-key order and the
//! lanes merged on the key after their prefix; the cursor records, per lane,
//! the last key handed out (or that it is done), so every task appears
//! exactly once across pages.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use base64::Engine;

use super::attributes::{Item, get_s, s};
use super::errors::dynamo_error;
use super::keys::*;
use super::task_item::task_id_of;
use tel_core::domain::{Assignee, TaskInstanceId, TaskStatus};
use tel_core::ports::{Page, PageRequest, PageSize, StoreError, ViewCount};

/// Sorts after every key of a lane (digits, hex digits, dashes, `#`).
const AFTER_ANY: &str = "~";
/// Sorts before every key (a key condition may not hold an empty string).
const BEFORE_ANY: &str = " ";

/// Per lane: `Some(last key handed out)`, `None` for "done"; absent means "from the start".
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

/// One partition of an index, narrowed to the keys in `[low, high]` (both
/// start with `prefix`, which lanes merged together differ by).
#[derive(Debug, Clone)]
pub struct Lane {
    pub index: &'static str,
    pub pk: String,
    pub prefix: String,
    pub low: String,
    pub high: String,
}

impl Lane {
    /// Every key of `pk` that starts with `prefix`.
    pub fn whole(index: &'static str, pk: String, prefix: String) -> Self {
        Self {
            index,
            low: if prefix.is_empty() {
                BEFORE_ANY.to_owned()
            } else {
                prefix.clone()
            },
            high: format!("{prefix}{AFTER_ANY}"),
            pk,
            prefix,
        }
    }

    /// The lane's name in a cursor: its index, partition and prefix (not
    /// its bounds, which a due window moves with the time).
    fn id(&self) -> String {
        format!("{}|{}|{}", self.index, self.pk, self.prefix)
    }
}

/// The ids of one page of the tasks of `assignees`, optionally of one
/// status, by status then age (the inbox index).
pub async fn merged_inbox(
    client: &Client,
    table: &str,
    assignees: &[Assignee],
    status: Option<TaskStatus>,
    page: PageRequest,
) -> Result<Page<TaskInstanceId>, StoreError> {
    let prefix = status.map(|s| format!("{s}#")).unwrap_or_default();
    let lanes: Vec<Lane> = assignees
        .iter()
        .map(|a| Lane::whole(INBOX_INDEX, inbox_pk(a), prefix.clone()))
        .collect();
    merged(
        client,
        table,
        &lanes,
        false,
        page,
        tel_core::ports::INBOX_PAGE,
    )
    .await
}

/// The ids of one page of `lanes` merged in key order (after each lane's
/// prefix), or in reverse when `descending`.
pub async fn merged(
    client: &Client,
    table: &str,
    lanes: &[Lane],
    descending: bool,
    page: PageRequest,
    size: PageSize,
) -> Result<Page<TaskInstanceId>, StoreError> {
    let limit = page.size(size);
    let mut positions = page
        .cursor
        .as_deref()
        .map(decode)
        .transpose()?
        .unwrap_or_default();
    // (order key, lane, full key, item)
    let mut candidates: Vec<(String, usize, String, Item)> = Vec::new();
    let mut exhausted: Vec<usize> = Vec::new();
    for (i, lane) in lanes.iter().enumerate() {
        let after = match positions.get(&lane.id()) {
            Some(None) => continue,
            // A position outside the lane is no cursor this query handed out.
            Some(Some(after)) if *after < lane.low || *after > lane.high => {
                return Err(StoreError::InvalidCursor);
            }
            Some(Some(after)) => Some(after.clone()),
            None => None,
        };
        let (items, more) =
            read_lane(client, table, lane, after.as_deref(), descending, limit).await?;
        if !more {
            exhausted.push(i);
        }
        let sk = index_keys(lane.index).1;
        candidates.extend(items.into_iter().map(|item| {
            let key = get_s(&item, sk).unwrap_or_default().to_owned();
            let order = key[lane.prefix.len().min(key.len())..].to_owned();
            (order, i, key, item)
        }));
    }
    candidates.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    if descending {
        candidates.reverse();
    }
    let taken = &candidates[..candidates.len().min(limit as usize)];
    for (i, lane) in lanes.iter().enumerate() {
        let from_here = candidates.iter().filter(|c| c.1 == i).count();
        let taken_here: Vec<&(String, usize, String, Item)> =
            taken.iter().filter(|c| c.1 == i).collect();
        if let Some(last) = taken_here.last() {
            positions.insert(lane.id(), Some(last.2.clone()));
        }
        if exhausted.contains(&i) && taken_here.len() == from_here {
            positions.insert(lane.id(), None);
        }
    }
    let done = lanes
        .iter()
        .all(|l| matches!(positions.get(&l.id()), Some(None)));
    let ids = taken
        .iter()
        .map(|(_, _, _, item)| task_id_of(item))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        items: ids,
        next_cursor: (!done).then(|| encode(&positions)),
    })
}

/// A query of `lane`'s keys in `[low, high]`.
fn lane_query(
    client: &Client,
    table: &str,
    lane: &Lane,
    low: &str,
    high: &str,
) -> QueryFluentBuilder {
    let (pk_name, sk_name) = index_keys(lane.index);
    client
        .query()
        .table_name(table)
        .index_name(lane.index)
        .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
        .expression_attribute_names("#pk", pk_name)
        .expression_attribute_names("#sk", sk_name)
        .expression_attribute_values(":pk", s(&lane.pk))
        .expression_attribute_values(":low", AttributeValue::S(low.to_owned()))
        .expression_attribute_values(":high", AttributeValue::S(high.to_owned()))
}

/// Up to `limit` items of one lane after `after` (in the lane's direction);
/// and whether more may follow.
async fn read_lane(
    client: &Client,
    table: &str,
    lane: &Lane,
    after: Option<&str>,
    descending: bool,
    limit: i32,
) -> Result<(Vec<Item>, bool), StoreError> {
    let sk_name = index_keys(lane.index).1;
    // BETWEEN is inclusive: the item at `after` comes back and is dropped below.
    let (low, high) = match (after, descending) {
        (Some(after), false) => (after, lane.high.as_str()),
        (Some(after), true) => (lane.low.as_str(), after),
        (None, _) => (lane.low.as_str(), lane.high.as_str()),
    };
    let query = lane_query(client, table, lane, low, high).scan_index_forward(!descending);
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
                .filter(|i| Some(get_s(i, sk_name).unwrap_or_default()) != after),
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

/// How many keys `lanes` hold together, counting up to `cap`.
pub async fn count(
    client: &Client,
    table: &str,
    lanes: &[Lane],
    cap: u64,
) -> Result<ViewCount, StoreError> {
    let mut total = 0u64;
    for lane in lanes {
        let mut start = None;
        loop {
            let remaining = cap + 1 - total;
            let out = lane_query(client, table, lane, &lane.low, &lane.high)
                .select(Select::Count)
                .limit(i32::try_from(remaining).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| dynamo_error("Query", table, e))?;
            total += out.count().max(0) as u64;
            start = out.last_evaluated_key;
            if total > cap {
                return Ok(ViewCount {
                    count: cap,
                    more: true,
                });
            }
            if start.is_none() {
                break;
            }
        }
    }
    Ok(ViewCount {
        count: total,
        more: false,
    })
}
