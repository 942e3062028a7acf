//! Task, history, outbox and idempotency records as table items.

use chrono::{DateTime, Utc};

use super::attributes::{Item, item_from_json, json_from_item, n, s};
use super::keys::*;
use crate::domain::{HistoryEntry, TaskEvent, TaskInstance, TaskInstanceId};
use crate::ports::StoreError;

/// Free-form JSON fields stored as text.
const TASK_OPAQUE: [&str; 4] = ["input", "context", "output", "error"];
const HISTORY_OPAQUE: [&str; 1] = ["details"];

pub fn task_to_item(task: &TaskInstance, deadline_shards: u16) -> Item {
    let mut item = item_from_json(
        serde_json::to_value(task).expect("tasks serialise"),
        &TASK_OPAQUE,
    );
    let id = task.task_instance_id;
    item.insert(PK.into(), s(task_pk(id)));
    item.insert(SK.into(), s(TASK_SK));
    item.insert(ITEM_TYPE.into(), s("task"));
    item.insert(GSI2PK.into(), s(workflow_pk(&task.workflow_instance_id)));
    item.insert(GSI2SK.into(), s(workflow_sk(id)));
    if let Some(assignee) = &task.assignee {
        item.insert(GSI1PK.into(), s(inbox_pk(assignee)));
        item.insert(GSI1SK.into(), s(inbox_sk(task.status, id)));
    }
    // Sparse: only a task with a pending deadline is in the deadline index.
    if let Some((_, at)) = task.next_deadline() {
        item.insert(GSI3PK.into(), s(deadline_pk(id.shard(deadline_shards))));
        item.insert(GSI3SK.into(), s(deadline_sk(at, &id.to_string())));
    }
    item
}

pub fn task_from_item(item: &Item) -> Result<TaskInstance, StoreError> {
    let json = json_from_item(item, &TASK_OPAQUE, &TABLE_ATTRIBUTES)?;
    serde_json::from_value(json).map_err(|e| StoreError::Corrupt(format!("task record: {e}")))
}

pub fn history_to_item(id: TaskInstanceId, entry: &HistoryEntry) -> Item {
    let mut item = item_from_json(
        serde_json::to_value(entry).expect("history serialises"),
        &HISTORY_OPAQUE,
    );
    item.insert(PK.into(), s(task_pk(id)));
    item.insert(SK.into(), s(history_sk(entry.version)));
    item.insert(ITEM_TYPE.into(), s("history"));
    item
}

pub fn history_from_item(item: &Item) -> Result<HistoryEntry, StoreError> {
    let json = json_from_item(item, &HISTORY_OPAQUE, &TABLE_ATTRIBUTES)?;
    serde_json::from_value(json).map_err(|e| StoreError::Corrupt(format!("history record: {e}")))
}

/// An event waiting to be published. It sits in the deadline index at
/// `republish_at`, so if the writer dies before publishing, the sweeper does it.
pub fn outbox_to_item(
    id: TaskInstanceId,
    event: &TaskEvent,
    republish_at: DateTime<Utc>,
    deadline_shards: u16,
) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), s(task_pk(id)));
    item.insert(SK.into(), s(outbox_sk(&event.event_id)));
    item.insert(ITEM_TYPE.into(), s("outbox"));
    item.insert(
        "event".into(),
        s(serde_json::to_string(event).expect("events serialise")),
    );
    item.insert(GSI3PK.into(), s(deadline_pk(id.shard(deadline_shards))));
    item.insert(
        GSI3SK.into(),
        s(deadline_sk(
            republish_at,
            &format!("{id}#{}", event.event_id),
        )),
    );
    item
}

pub fn outbox_from_item(item: &Item) -> Result<TaskEvent, StoreError> {
    let text = item
        .get("event")
        .and_then(|a| a.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt("outbox item without event".into()))?;
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("outbox event: {e}")))
}

pub fn idempotency_item(key: &str, id: TaskInstanceId, expires_at: DateTime<Utc>) -> Item {
    Item::from([
        (PK.to_owned(), s(idempotency_pk(key))),
        (SK.to_owned(), s("IDEM")),
        (ITEM_TYPE.to_owned(), s("idempotency")),
        ("taskInstanceId".to_owned(), s(id.to_string())),
        (EXPIRES_AT.to_owned(), n(expires_at.timestamp())),
    ])
}
