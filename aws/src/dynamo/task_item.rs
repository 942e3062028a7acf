//! A task, its history included, as one table item. Every transition writes
//! this one item: its size is what each write costs, so the id (already in
//! the key) is not repeated and the history is compact JSON text
//! (`compact_history`).

use chrono::{DateTime, TimeZone, Utc};

use super::attributes::{Item, get_s, item_from_json, json_from_item, s};
use super::compact_history::{self, HistoryFormat};
use super::keys::*;
use tel_core::domain::operation::IndexedTask;
use tel_core::domain::{Assignee, PayloadField, TaskInstance, TaskInstanceId, TaskStatus};
use tel_core::ports::StoreError;

/// DynamoDB's limits for an index's partition and sort key, in bytes.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
pub const MAX_SORT_KEY_BYTES: usize = 1024;

/// Free-form JSON fields stored as text.
const TASK_OPAQUE: [&str; 4] = ["input", "context", "output", "error"];
/// The history: a JSON array of entries, oldest first.
pub const HISTORY: &str = "history";
/// The waiting orchestrator step (its task token), as JSON text: kept out
/// of the task's serialised form, which the API and events are made from.
pub const CALLBACK: &str = "callback";

pub fn task_to_item(task: &TaskInstance, deadline_shards: u16, history: HistoryFormat) -> Item {
    let mut record = serde_json::to_value(task).expect("tasks serialise");
    if let Some(fields) = record.as_object_mut() {
        fields.remove("taskInstanceId");
    }
    let mut item = item_from_json(record, &TASK_OPAQUE);
    // A payload stored elsewhere is not repeated here, loaded or not.
    for field in PayloadField::ALL {
        if task.payload(field).1.is_some() {
            item.remove(field.as_str());
        }
    }
    let id = task.task_instance_id;
    item.insert(PK.into(), s(task_pk(id)));
    item.insert(SK.into(), s(TASK_SK));
    item.insert(ITEM_TYPE.into(), s("task"));
    item.insert(
        HISTORY.into(),
        s(compact_history::encode(
            &task.history,
            task.created_at,
            history,
        )),
    );
    if let Some(callback) = &task.callback {
        item.insert(
            CALLBACK.into(),
            s(serde_json::to_string(callback).expect("callbacks serialise")),
        );
    }
    if let Some(assignee) = &task.assignee {
        item.insert(GSI1PK.into(), s(inbox_pk(assignee)));
        item.insert(GSI1SK.into(), s(inbox_sk(task.status, task.created_at, id)));
        item.extend(view_keys(task, assignee));
    }
    // Sparse: only a task an operator may act on in bulk is in the operations index.
    if let Some(entry) = IndexedTask::of(task) {
        let (pk, sk) = (
            operations_pk(&task.definition_name, task.status),
            operations_sk(&entry, id),
        );
        // A name or error code too long for an index key: left out, not refused.
        if pk.len() <= MAX_PARTITION_KEY_BYTES && sk.len() <= MAX_SORT_KEY_BYTES {
            item.insert(GSI7PK.into(), s(pk));
            item.insert(GSI7SK.into(), s(sk));
        }
    }
    // Sparse: only a task the sweeper must look at again is in the deadline index.
    if let Some(at) = task.wake_at {
        item.extend(wake_keys(id, at, deadline_shards));
    }
    item
}

/// A manual task's entries in the inbox views' indexes: open, under its
/// holder by due time and by priority; completed, under who completed it.
/// Sparse: every other task is in neither, so no other write pays for them.
fn view_keys(task: &TaskInstance, holder: &Assignee) -> Item {
    let id = task.task_instance_id;
    match task.status {
        TaskStatus::Assigned | TaskStatus::Claimed => Item::from([
            (GSI4PK.to_owned(), s(inbox_pk(holder))),
            (GSI4SK.to_owned(), s(due_sk(task.status, task.due_at, id))),
            (GSI5PK.to_owned(), s(inbox_pk(holder))),
            (
                GSI5SK.to_owned(),
                s(priority_sk(task.status, task.priority, task.created_at, id)),
            ),
        ]),
        TaskStatus::Completed => match (&task.completed_by, task.finished_at) {
            (Some(by), Some(at)) => Item::from([
                (GSI4PK.to_owned(), s(done_pk(by))),
                (GSI4SK.to_owned(), s(done_sk(at, id))),
            ]),
            _ => Item::new(),
        },
        _ => Item::new(),
    }
}

/// The deadline-index keys of a task waking at `at`.
pub fn wake_keys(id: TaskInstanceId, at: DateTime<Utc>, deadline_shards: u16) -> Item {
    Item::from([
        (GSI3PK.to_owned(), s(deadline_pk(id.shard(deadline_shards)))),
        (GSI3SK.to_owned(), s(deadline_sk(at))),
    ])
}

pub fn task_id_of(item: &Item) -> Result<TaskInstanceId, StoreError> {
    get_s(item, PK)
        .and_then(|pk| pk.strip_prefix("TASK#"))
        .and_then(|id| TaskInstanceId::parse(id).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("not a task key: {:?}", item.get(PK))))
}

pub fn task_from_item(item: &Item) -> Result<TaskInstance, StoreError> {
    let id = task_id_of(item)?;
    let mut json = json_from_item(item, &TASK_OPAQUE, &TABLE_ATTRIBUTES_AND_HISTORY)?;
    json["taskInstanceId"] = serde_json::Value::String(id.to_string());
    let mut task: TaskInstance = serde_json::from_value(json)
        .map_err(|e| StoreError::Corrupt(format!("task record {id}: {e}")))?;
    task.history = match get_s(item, HISTORY) {
        Some(text) => compact_history::decode(text, task.created_at)
            .map_err(|e| StoreError::Corrupt(format!("history of task {id}: {e}")))?,
        None => Vec::new(),
    };
    task.callback = match get_s(item, CALLBACK) {
        Some(text) => Some(
            serde_json::from_str(text)
                .map_err(|e| StoreError::Corrupt(format!("callback of task {id}: {e}")))?,
        ),
        None => None,
    };
    task.wake_at = get_s(item, GSI3SK)
        .and_then(deadline_millis)
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    Ok(task)
}

const TABLE_ATTRIBUTES_AND_HISTORY: [&str; 18] = [
    PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI3PK, GSI3SK, GSI4PK, GSI4SK, GSI5PK, GSI5SK, GSI7PK,
    GSI7SK, ITEM_TYPE, EXPIRES_AT, HISTORY, CALLBACK,
];
