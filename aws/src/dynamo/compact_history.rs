//! The history as the task item stores it: each entry one JSON array
//! `[version, at, action, from, to, attempt, extras?]`, times as
//! milliseconds after the task's creation. Every write pays for the whole
//! item in 1 KB units, and the history was half of an automated task's
//! item: spelled as objects with ISO times, a three-entry history took 399
//! bytes and pushed the bench task's completing write over 1 KB (a fourth
//! write unit); as arrays it takes 151. The entries read back are exactly those
//! written, and items written before (entries as objects) still read.
//!
//! `extras` holds only what an entry has: `by` (actor), `s` (the attempt's
//! start, as `at` is), `d` (its duration in ms), `o` (its outcome), `x`
//! (details).

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use tel_core::domain::{HistoryEntry, TaskStatus};

/// How the history is written. Every release since this one reads both;
/// a stack upgraded from one before writes `Objects` until every function
/// runs this code (docs/deploy.md, "Upgrading"), since older code reads
/// only objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HistoryFormat {
    #[default]
    Compact,
    Objects,
}

impl HistoryFormat {
    /// `compact` or `objects` (`TEL_HISTORY_FORMAT`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "compact" => Some(Self::Compact),
            "objects" => Some(Self::Objects),
            _ => None,
        }
    }
}

/// A time as milliseconds after `origin` when that is exact (the stack's
/// clock keeps milliseconds), else as RFC 3339 text.
fn time(at: DateTime<Utc>, origin: DateTime<Utc>) -> Value {
    let offset = at - origin;
    if offset.subsec_nanos() % 1_000_000 == 0 {
        json!(offset.num_milliseconds())
    } else {
        json!(at)
    }
}

fn read_time(value: &Value, origin: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match value {
        // Checked: a corrupt offset is an error, not a panic.
        Value::Number(ms) => origin.checked_add_signed(TimeDelta::try_milliseconds(ms.as_i64()?)?),
        other => serde_json::from_value(other.clone()).ok(),
    }
}

fn entry(history: &HistoryEntry, origin: DateTime<Utc>) -> Value {
    let mut extras = Map::new();
    if let Some(actor) = &history.actor {
        extras.insert("by".into(), json!(actor));
    }
    if let Some(started) = history.attempt_started_at {
        extras.insert("s".into(), time(started, origin));
    }
    if let Some(ms) = history.duration_ms {
        extras.insert("d".into(), json!(ms));
    }
    if let Some(outcome) = &history.outcome {
        extras.insert("o".into(), json!(outcome));
    }
    if !history.details.is_null() {
        extras.insert("x".into(), history.details.clone());
    }
    let mut fields = vec![
        json!(history.version),
        time(history.at, origin),
        json!(history.action),
        json!(history.from),
        json!(history.to),
        json!(history.attempt),
    ];
    if !extras.is_empty() {
        fields.push(Value::Object(extras));
    }
    Value::Array(fields)
}

/// The history as stored text.
pub fn encode(
    history: &[HistoryEntry],
    created_at: DateTime<Utc>,
    format: HistoryFormat,
) -> String {
    match format {
        HistoryFormat::Compact => {
            Value::Array(history.iter().map(|h| entry(h, created_at)).collect()).to_string()
        }
        HistoryFormat::Objects => serde_json::to_string(history).expect("history serialises"),
    }
}

fn read_entry(value: &Value, origin: DateTime<Utc>) -> Result<HistoryEntry, String> {
    let Value::Array(fields) = value else {
        // Written before the history was compact: an object per entry.
        return serde_json::from_value(value.clone()).map_err(|e| e.to_string());
    };
    let field = |i: usize| fields.get(i).unwrap_or(&Value::Null);
    let bad = |what: &str| format!("entry {value}: {what}");
    let status = |v: &Value| -> Result<Option<TaskStatus>, String> {
        serde_json::from_value(v.clone()).map_err(|_| bad("a status"))
    };
    let extras = field(6);
    let extra = |key: &str| extras.get(key).unwrap_or(&Value::Null);
    Ok(HistoryEntry {
        version: field(0).as_u64().ok_or_else(|| bad("the version"))?,
        at: read_time(field(1), origin).ok_or_else(|| bad("the time"))?,
        action: field(2)
            .as_str()
            .ok_or_else(|| bad("the action"))?
            .to_owned(),
        from: status(field(3))?,
        to: status(field(4))?.ok_or_else(|| bad("the status it went to"))?,
        attempt: field(5)
            .as_u64()
            .and_then(|a| u32::try_from(a).ok())
            .ok_or_else(|| bad("the attempt"))?,
        actor: extra("by").as_str().map(str::to_owned),
        attempt_started_at: match extra("s") {
            Value::Null => None,
            at => Some(read_time(at, origin).ok_or_else(|| bad("the attempt's start"))?),
        },
        duration_ms: extra("d").as_i64(),
        outcome: extra("o").as_str().map(str::to_owned),
        details: extra("x").clone(),
    })
}

/// The history from its stored text (either spelling).
pub fn decode(text: &str, created_at: DateTime<Utc>) -> Result<Vec<HistoryEntry>, String> {
    let entries: Vec<Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    entries.iter().map(|e| read_entry(e, created_at)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn automated_history() -> Vec<HistoryEntry> {
        let plain = |version, when: &str, action: &str, from, to, attempt| {
            HistoryEntry::new(version, at(when), action, from, to, attempt)
        };
        vec![
            plain(
                1,
                "2026-12-03T17:51:20.457Z",
                "created",
                None,
                TaskStatus::Created,
                0,
            ),
            plain(
                2,
                "2026-12-03T17:51:20.806Z",
                "started",
                Some(TaskStatus::Created),
                TaskStatus::Running,
                1,
            ),
            HistoryEntry {
                attempt_started_at: Some(at("2026-12-03T17:51:20.806Z")),
                duration_ms: Some(83),
                outcome: Some("succeeded".into()),
                ..plain(
                    3,
                    "2026-12-03T17:51:20.889Z",
                    "completed",
                    Some(TaskStatus::Running),
                    TaskStatus::Completed,
                    1,
                )
            },
        ]
    }

    #[test]
    fn entries_read_back_as_written_in_well_under_half_the_bytes() {
        let created = at("2026-12-03T17:51:20.457Z");
        let history = automated_history();
        let text = encode(&history, created, HistoryFormat::Compact);
        assert_eq!(decode(&text, created).unwrap(), history);
        let before = serde_json::to_string(&history).unwrap();
        assert_eq!(before.len(), 399);
        assert_eq!(text.len(), 151, "{text}");
    }

    #[test]
    fn actors_details_and_times_finer_than_a_millisecond_are_kept() {
        let created = at("2026-12-03T10:00:00.000Z");
        let history = vec![HistoryEntry {
            version: 4,
            at: at("2026-12-03T10:00:01.000123456Z"),
            action: "cancelled".into(),
            from: Some(TaskStatus::Assigned),
            to: TaskStatus::Cancelled,
            attempt: 0,
            actor: Some("olga".into()),
            attempt_started_at: Some(at("2026-12-03T09:59:59.5Z")),
            duration_ms: Some(-3),
            outcome: Some("cancelled".into()),
            details: json!({ "reason": "duplicate" }),
        }];
        assert_eq!(
            decode(&encode(&history, created, HistoryFormat::Compact), created).unwrap(),
            history
        );
    }

    #[test]
    fn histories_stored_as_objects_still_read() {
        let created = at("2026-12-03T17:51:20.457Z");
        let history = automated_history();
        let old = encode(&history, created, HistoryFormat::Objects);
        assert_eq!(old, serde_json::to_string(&history).unwrap());
        assert_eq!(decode(&old, created).unwrap(), history);
        assert!(decode(r#"[[1, 0, "created", null, "NOT_A_STATUS", 0]]"#, created).is_err());
        assert!(
            decode(
                r#"[[1, "yesterday", "created", null, "CREATED", 0]]"#,
                created
            )
            .is_err()
        );
    }
}
