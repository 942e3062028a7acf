//! The inbox views over the table's indexes: which lanes each view reads
//! (`inbox::Lane`) and in what order.

use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use super::inbox::{Lane, count, merged};
use super::keys::*;
use tel_core::domain::{Shelf, TaskInstanceId};
use tel_core::ports::{
    InboxSort, InboxView, Page, StoreError, VIEW_COUNT_CAP, ViewCount, ViewQuery,
};

/// A page of a view is at most this long.
pub const VIEW_PAGE: tel_core::ports::PageSize = tel_core::ports::INBOX_PAGE;

/// The lanes a view reads, and whether it reads them latest first.
pub fn lanes(query: &ViewQuery) -> (Vec<Lane>, bool) {
    if let Some(definition) = &query.definition {
        return filtered_lanes(query, definition);
    }
    if query.view == InboxView::Completed {
        let lane = Lane::whole(DUE_INDEX, done_pk(&query.user), String::new());
        return (vec![lane], true);
    }
    // A due window reads the due index between its bounds.
    let (index, window) = match (query.due, query.sort) {
        (Some(window), _) => (DUE_INDEX, Some(window)),
        (None, InboxSort::Due) => (DUE_INDEX, None),
        (None, InboxSort::Priority) => (PRIORITY_INDEX, None),
        (None, InboxSort::Created) => (INBOX_INDEX, None),
    };
    let mut lanes = Vec::new();
    for (holder, statuses) in query.holders() {
        for status in statuses {
            let prefix = format!("{status}#");
            let mut lane = Lane::whole(index, inbox_pk(&holder), prefix.clone());
            if let Some(window) = window {
                let bound = |at: DateTime<Utc>| format!("{prefix}{}", millis(at));
                lane.low = window.from.map(bound).unwrap_or_else(|| prefix.clone());
                // Keys carry `#<id>` after the time: one due exactly at `to` sorts above.
                lane.high = bound(window.to);
            }
            lanes.push(lane);
        }
    }
    (lanes, false)
}

/// A view of one definition reads its tasks' search entries: per shelf,
/// the searched field's keys between the search's bounds, or the view's
/// order (narrowed to the due window).
fn filtered_lanes(query: &ViewQuery, definition: &str) -> (Vec<Lane>, bool) {
    let facet = query.facet();
    let shelves: Vec<Shelf> = match query.view {
        InboxView::Completed => vec![Shelf::CompletedBy(query.user.clone())],
        _ => query
            .holders()
            .into_iter()
            .map(|(holder, _)| Shelf::Held(holder))
            .collect(),
    };
    let lanes = shelves
        .iter()
        .map(|shelf| {
            let mut lane = Lane::whole(
                SEARCH_INDEX,
                search_pk(shelf, definition, facet),
                String::new(),
            );
            if let Some(search) = &query.search {
                let (low, high) = search.bounds();
                (lane.low, lane.high) = (low.to_owned(), high.to_owned());
            } else if let Some(window) = query.due {
                lane.low = window.from.map(millis).unwrap_or(lane.low);
                lane.high = millis(window.to);
            }
            lane
        })
        .collect();
    (
        lanes,
        query.view == InboxView::Completed && query.search.is_none(),
    )
}

pub async fn view(
    client: &Client,
    table: &str,
    query: &ViewQuery,
) -> Result<Page<TaskInstanceId>, StoreError> {
    let (lanes, latest_first) = lanes(query);
    merged(
        client,
        table,
        &lanes,
        latest_first,
        query.page.clone(),
        VIEW_PAGE,
    )
    .await
}

pub async fn view_count(
    client: &Client,
    table: &str,
    query: &ViewQuery,
) -> Result<ViewCount, StoreError> {
    count(client, table, &lanes(query).0, VIEW_COUNT_CAP).await
}
