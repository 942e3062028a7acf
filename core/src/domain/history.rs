//! History entries: one per transition, kept in the task's own item.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::status::TaskStatus;

/// The history names of the two actions that start a new run of a task
/// (`TaskInstance::run`): a rerun and a replay.
pub const RERUN: &str = "rerun";
pub const REPLAYED: &str = "replayed";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The task version this entry produced; orders the history.
    pub version: u64,
    pub at: DateTime<Utc>,
    /// What happened, e.g. `started`, `retryScheduled`, `completed`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<TaskStatus>,
    pub to: TaskStatus,
    pub attempt: u32,
    /// Who caused it, when a person did (manual tasks, API calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// For entries that end an attempt: its start, duration and outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

/// Error details larger than this are not repeated in history: the task keeps
/// the latest error whole, and every write pays for the item's whole size.
const MAX_KEPT_DETAILS_BYTES: usize = 1024;

impl HistoryEntry {
    /// An entry of a transition that records nothing more (no actor, no
    /// attempt's end, no details).
    pub fn new(
        version: u64,
        at: DateTime<Utc>,
        action: &str,
        from: Option<TaskStatus>,
        to: TaskStatus,
        attempt: u32,
    ) -> Self {
        Self {
            version,
            at,
            action: action.to_owned(),
            from,
            to,
            attempt,
            actor: None,
            attempt_started_at: None,
            duration_ms: None,
            outcome: None,
            details: Value::Null,
        }
    }

    /// The entry as stored: an error's large `details` dropped (noted as
    /// `detailsDropped`), everything else as it is.
    pub fn compact(mut self) -> Self {
        if let Some(details) = self
            .details
            .get_mut("error")
            .and_then(|e| e.get_mut("details"))
            && details.to_string().len() > MAX_KEPT_DETAILS_BYTES
        {
            *details = serde_json::json!({ "detailsDropped": true });
        }
        self
    }
}
