//! The inbox views over the table's indexes: which lanes each view reads
//! (`inbox::Lane`) and in what order.

use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use super::inbox::{Lane, count, merged};
use super::keys::*;
use tel_core::domain::TaskInstanceId;
use tel_core::ports::{
    InboxSort, InboxView, Page, StoreError, VIEW_COUNT_CAP, ViewCount, ViewQuery,
};

/// A page of a view is at most this long.
pub const VIEW_PAGE: tel_core::ports::PageSize = tel_core::ports::INBOX_PAGE;

/// The lanes a view reads, and whether it reads them latest first.
pub fn lanes(query: &ViewQuery) -> (Vec<Lane>, bool) {
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
