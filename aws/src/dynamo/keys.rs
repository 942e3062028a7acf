//! Key layout of the single table (docs/data-model.md has the whole picture).

use chrono::{DateTime, Utc};

use tel_core::domain::operation::IndexedTask;
use tel_core::domain::sortable;
use tel_core::domain::{Assignee, AssigneeType, Shelf, TaskInstanceId, TaskStatus};

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
/// The keys of the `workflow` index, which is gone (nothing read it; a
/// write unit per task): items written before still carry them.
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
pub const GSI4PK: &str = "GSI4PK";
pub const GSI4SK: &str = "GSI4SK";
pub const GSI5PK: &str = "GSI5PK";
pub const GSI5SK: &str = "GSI5SK";
pub const GSI6PK: &str = "GSI6PK";
pub const GSI6SK: &str = "GSI6SK";
pub const GSI7PK: &str = "GSI7PK";
pub const GSI7SK: &str = "GSI7SK";
pub const ITEM_TYPE: &str = "itemType";
pub const EXPIRES_AT: &str = "expiresAt";

pub const INBOX_INDEX: &str = "inbox";
pub const DEADLINE_INDEX: &str = "deadlines";
/// Open manual tasks by holder and due time; completed ones by who completed them.
pub const DUE_INDEX: &str = "inbox-due";
/// Open manual tasks by holder and priority.
pub const PRIORITY_INDEX: &str = "inbox-priority";
/// Manual tasks' search entries: by shelf, definition and facet, in the
/// facet's order (`tel_core::domain::search`).
pub const SEARCH_INDEX: &str = "inbox-search";
/// Tasks operators act on in bulk, by definition and status
/// (`tel_core::domain::operation`).
pub const OPERATIONS_INDEX: &str = "operations";

/// Attributes the table adds to a record; never part of the record itself.
pub const TABLE_ATTRIBUTES: [&str; 18] = [
    PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI3PK, GSI3SK, GSI4PK, GSI4SK, GSI5PK, GSI5SK, GSI6PK,
    GSI6SK, GSI7PK, GSI7SK, ITEM_TYPE, EXPIRES_AT,
];

/// An index's key attributes.
pub fn index_keys(index: &str) -> (&'static str, &'static str) {
    match index {
        DUE_INDEX => (GSI4PK, GSI4SK),
        PRIORITY_INDEX => (GSI5PK, GSI5SK),
        SEARCH_INDEX => (GSI6PK, GSI6SK),
        OPERATIONS_INDEX => (GSI7PK, GSI7SK),
        DEADLINE_INDEX => (GSI3PK, GSI3SK),
        _ => (GSI1PK, GSI1SK),
    }
}

pub const TASK_SK: &str = "TASK";
pub const VERSION_PREFIX: &str = "V#";

pub fn task_pk(id: TaskInstanceId) -> String {
    format!("TASK#{id}")
}

pub fn definition_pk(name: &str) -> String {
    format!("DEF#{name}")
}

pub fn definition_sk(version: u32) -> String {
    format!("{VERSION_PREFIX}{version:010}")
}

pub fn inbox_pk(assignee: &Assignee) -> String {
    let kind = match assignee.kind {
        AssigneeType::User => "USER",
        AssigneeType::Group => "GROUP",
    };
    format!("ASSIGNEE#{kind}#{}", assignee.id)
}

/// Status first, so an inbox can be read for one status with `begins_with`;
/// then age; the id keeps keys unique for the inbox cursor.
pub fn inbox_sk(status: TaskStatus, created: DateTime<Utc>, id: TaskInstanceId) -> String {
    format!("{status}#{}#{id}", millis(created))
}

/// Status first (a view reads one status at a time), then the due time.
pub fn due_sk(status: TaskStatus, due: Option<DateTime<Utc>>, id: TaskInstanceId) -> String {
    let due = due
        .map(millis)
        .unwrap_or_else(|| sortable::NO_TIME.to_owned());
    format!("{status}#{due}#{id}")
}

/// Where a completed manual task is found by who completed it.
pub fn done_pk(user: &str) -> String {
    format!("DONE#{user}")
}

/// The partition a shelf's tasks are in, in the views' indexes.
pub fn shelf_pk(shelf: &Shelf) -> String {
    match shelf {
        Shelf::Held(holder) => inbox_pk(holder),
        Shelf::CompletedBy(user) => done_pk(user),
    }
}

/// A search entry's item: under its task, one per facet.
pub fn search_sk(facet: &str) -> String {
    format!("SEARCH#{facet}")
}

/// The search entries of one shelf's tasks of one definition for one facet.
pub fn search_pk(shelf: &Shelf, definition: &str, facet: &str) -> String {
    format!("{}#{definition}#{facet}", shelf_pk(shelf))
}

pub fn done_sk(finished: DateTime<Utc>, id: TaskInstanceId) -> String {
    format!("{}#{id}", millis(finished))
}

/// Status, then priority (9 first), then age.
pub fn priority_sk(
    status: TaskStatus,
    priority: i32,
    created: DateTime<Utc>,
    id: TaskInstanceId,
) -> String {
    let rank = 9 - priority.clamp(0, 9);
    format!("{status}#{rank}#{}#{id}", millis(created))
}

pub fn deadline_pk(shard: u16) -> String {
    format!("DUE#{shard}")
}

/// Milliseconds zero-padded so that string order is time order.
pub fn millis(at: DateTime<Utc>) -> String {
    sortable::time(at)
}

/// A wake-up time in the deadline index (GSI sort keys need not be unique).
pub fn deadline_sk(at: DateTime<Utc>) -> String {
    millis(at)
}

pub fn deadline_millis(sk: &str) -> Option<i64> {
    sk.parse().ok()
}

/// One definition's tasks in one status, in the operations index.
pub fn operations_pk(definition: &str, status: TaskStatus) -> String {
    format!("OPS#{definition}#{status}")
}

/// Error code first (a selection by code is one key range), then the time
/// (`IndexedTask::at`), the definition version and the id: a selection is
/// decided from the key alone, without reading the task.
pub fn operations_sk(entry: &IndexedTask, id: TaskInstanceId) -> String {
    format!(
        "{}#{}#{}#{id}",
        entry.error_code.as_deref().unwrap_or(""),
        millis(entry.at),
        entry.version
    )
}

/// The entry an operations-index key stands for. Read from the right: an
/// error code may hold anything, `#` included.
pub fn parse_operations_key(pk: &str, sk: &str) -> Option<(IndexedTask, TaskInstanceId)> {
    let status = TaskStatus::parse(pk.rsplit('#').next()?)?;
    let mut parts = sk.rsplitn(4, '#');
    let id = TaskInstanceId::parse(parts.next()?).ok()?;
    let version = parts.next()?.parse().ok()?;
    let at = DateTime::from_timestamp_millis(parts.next()?.parse().ok()?)?;
    let code = parts.next()?;
    Some((
        IndexedTask {
            status,
            error_code: (!code.is_empty()).then(|| code.to_owned()),
            at,
            version,
        },
        id,
    ))
}

/// Bulk operations' records, newest id last.
pub const OPERATIONS_PK: &str = "OPERATIONS";

/// What one operation did to its tasks, one item per task.
pub fn operation_outcomes_pk(operation_id: &str) -> String {
    format!("OP#{operation_id}")
}
