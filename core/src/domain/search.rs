//! Finding tasks by what they are about. A manual definition declares
//! which fields of a task are searchable and of what kind
//! (`"searchable": {"employee": "text", "amount": "number"}`); at
//! assignment each field's value is kept on the task as a sortable key, and
//! the task is filed under its holder, definition and field with that key
//! (`SearchEntries`), so an inbox filters on a field by reading a key range:
//! equality and prefix for text, ranges for numbers and dates.
//!
//! The entries themselves are `search_entries`.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ids::TaskInstanceId;
use super::sortable::{self, AFTER_TEXT};
use super::title::{is_field_path, lookup};

/// A searchable field's kind: how its value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// Case-insensitive equality and prefix.
    Text,
    /// Equality and ranges.
    Number,
    /// An RFC 3339 time or a `YYYY-MM-DD` day (UTC): equality and ranges.
    Date,
}

/// A definition's searchable fields: name (a field path, as in titles) → kind.
pub type Searchable = BTreeMap<String, FieldKind>;

/// The most fields a definition may make searchable (each costs a write
/// whenever the task changes hands).
pub const MAX_SEARCHABLE: usize = 5;

/// Between a key and the task id in an entry's sort key: below every
/// character a key holds, so a key's entries sort together.
pub const SEPARATOR: char = '\u{1}';
/// Above `SEPARATOR`: closes the range of one key's entries.
const AFTER_SEPARATOR: char = '\u{2}';

impl FieldKind {
    fn letter(self) -> char {
        match self {
            Self::Text => 't',
            Self::Number => 'n',
            Self::Date => 'd',
        }
    }

    /// The sortable key of a task's value; `None` when the value is not of
    /// this kind (the task is then not found by the field).
    pub fn key(self, value: &Value) -> Option<String> {
        let encoded = match (self, value) {
            (Self::Text, Value::String(text)) => sortable::text(text),
            (Self::Text, Value::Number(n)) => n.to_string(),
            (Self::Number, Value::Number(n)) => sortable::number(n.as_f64()?),
            (Self::Number, Value::String(text)) => number(text)?,
            (Self::Date, Value::String(text)) => date(instant(text)?.0),
            _ => return None,
        };
        Some(format!("{}{encoded}", self.letter()))
    }

    /// The key a searched-for value has; an error says what is expected.
    fn query_key(self, text: &str) -> Result<String, String> {
        let wrong = || match self {
            Self::Text => "a text".to_owned(),
            Self::Number => format!("a number, got \"{text}\""),
            Self::Date => format!("an RFC 3339 time or a YYYY-MM-DD day, got \"{text}\""),
        };
        self.key(&Value::String(text.to_owned()))
            .ok_or_else(|| format!("must be {}", wrong()))
    }
}

/// A time as a sortable number of epoch milliseconds: before 1970 too.
fn date(at: DateTime<Utc>) -> String {
    sortable::number(at.timestamp_millis() as f64)
}

/// The key just after every time in `day` (a `YYYY-MM-DD`): a bound that
/// takes in the whole day.
fn after_day(day: &str) -> Option<String> {
    let (start, true) = instant(day)? else {
        return None;
    };
    let next = start.checked_add_days(Days::new(1))?;
    Some(format!("d{}", date(next)))
}

fn number(text: &str) -> Option<String> {
    let x: f64 = text.trim().parse().ok()?;
    x.is_finite().then(|| sortable::number(x))
}

/// An RFC 3339 time, or the start of a `YYYY-MM-DD` day; and whether it
/// was a day.
fn instant(text: &str) -> Option<(DateTime<Utc>, bool)> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some((at.with_timezone(&Utc), false));
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some((day.and_hms_opt(0, 0, 0)?.and_utc(), true))
}

/// What is wrong with a `searchable` declaration, by field.
pub fn problems(searchable: &Searchable) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if searchable.len() > MAX_SEARCHABLE {
        problems.push((
            "manual.searchable".into(),
            format!("at most {MAX_SEARCHABLE} fields may be searchable"),
        ));
    }
    for name in searchable.keys() {
        if !is_field_path(name) {
            problems.push((
                format!("manual.searchable.{name}"),
                "is not a field path (letters, digits, `_`, `-`, separated by dots)".into(),
            ));
        }
    }
    problems
}

/// The keys of a task's searchable fields, by field; a field missing from
/// the task, or not of its kind, has none.
pub fn keys_of(
    searchable: &Searchable,
    input: &Value,
    context: &Value,
) -> BTreeMap<String, String> {
    searchable
        .iter()
        .filter_map(|(name, kind)| Some((name.clone(), kind.key(lookup(name, input, context)?)?)))
        .collect()
}

/// What a search asks of a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    Equals(String),
    /// Text only.
    Prefix(String),
    /// Numbers and dates; both ends inclusive (a `max` day includes the day).
    Range {
        min: Option<String>,
        max: Option<String>,
    },
}

/// A search of one declared field, with the bounds it reads between.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSearch {
    pub field: String,
    pub kind: FieldKind,
    pub predicate: Predicate,
    /// The lowest and highest entry key (`key␁id`) that match.
    low: String,
    high: String,
}

impl FieldSearch {
    pub fn new(field: &str, kind: FieldKind, predicate: Predicate) -> Result<Self, String> {
        let letter = kind.letter();
        let (low, high) = match &predicate {
            // A day, searched by "is", is the whole day.
            Predicate::Equals(value) if kind == FieldKind::Date && after_day(value).is_some() => {
                (kind.query_key(value)?, after_day(value).expect("a day"))
            }
            Predicate::Equals(value) => {
                let key = kind.query_key(value)?;
                (
                    format!("{key}{SEPARATOR}"),
                    format!("{key}{AFTER_SEPARATOR}"),
                )
            }
            Predicate::Prefix(prefix) if kind == FieldKind::Text => {
                let key = kind.query_key(prefix)?;
                (key.clone(), format!("{key}{AFTER_TEXT}"))
            }
            Predicate::Prefix(_) => {
                return Err(format!(
                    "a prefix searches text; `{field}` is a {kind:?} field"
                ));
            }
            Predicate::Range { .. } if kind == FieldKind::Text => {
                return Err(format!(
                    "ranges search numbers and dates; `{field}` is a text field"
                ));
            }
            Predicate::Range { min, max } => {
                let low = match min {
                    Some(min) => kind.query_key(min)?,
                    None => letter.to_string(),
                };
                let high = match max {
                    // The whole of the last day.
                    Some(max) if kind == FieldKind::Date && after_day(max).is_some() => {
                        after_day(max).expect("a day")
                    }
                    Some(max) => format!("{}{AFTER_SEPARATOR}", kind.query_key(max)?),
                    None => format!("{letter}~"),
                };
                if low > high {
                    return Err("min must not be above max".into());
                }
                (low, high)
            }
        };
        Ok(Self {
            field: field.to_owned(),
            kind,
            predicate,
            low,
            high,
        })
    }

    /// The entry keys the search reads between, both inclusive.
    pub fn bounds(&self) -> (&str, &str) {
        (&self.low, &self.high)
    }

    /// Whether a task with this key for the field matches.
    pub fn matches(&self, key: &str, id: TaskInstanceId) -> bool {
        let entry = entry_key(key, id);
        self.low <= entry && entry <= self.high
    }
}

/// An entry's sort key: the value's key, then the task (keys repeat).
pub fn entry_key(key: &str, id: TaskInstanceId) -> String {
    format!("{key}{SEPARATOR}{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id() -> TaskInstanceId {
        TaskInstanceId::new()
    }

    #[test]
    fn keys_come_from_the_declared_fields_of_their_kind() {
        let searchable: Searchable = serde_json::from_value(json!({
            "employee": "text", "amount": "number", "submitted": "date",
            "context.region": "text", "missing": "text"
        }))
        .unwrap();
        let keys = keys_of(
            &searchable,
            &json!({ "employee": " Alice ", "amount": "120.5", "submitted": "2026-12-01" }),
            &json!({ "region": "EU" }),
        );
        assert_eq!(keys["employee"], "talice");
        assert_eq!(keys["amount"], format!("n{}", sortable::number(120.5)));
        assert!(keys["submitted"].starts_with('d'));
        assert_eq!(keys["context.region"], "teu");
        assert!(!keys.contains_key("missing"));
        let wrong = keys_of(&searchable, &json!({ "amount": "lots" }), &json!({}));
        assert!(wrong.is_empty(), "a value not of its kind is not indexed");
    }

    #[test]
    fn text_matches_by_equality_and_prefix_without_case() {
        let (a, b) = (id(), id());
        let eq = FieldSearch::new("e", FieldKind::Text, Predicate::Equals("ALICE".into())).unwrap();
        assert!(eq.matches("talice", a));
        assert!(!eq.matches("talicea", a));
        let prefix =
            FieldSearch::new("e", FieldKind::Text, Predicate::Prefix("Al".into())).unwrap();
        assert!(prefix.matches("talice", b) && prefix.matches("tal", b));
        assert!(prefix.matches(&format!("tal{}", sortable::TEXT_MAX), b));
        assert!(!prefix.matches("tbob", b));
    }

    #[test]
    fn ranges_include_both_ends_and_the_whole_last_day() {
        let a = id();
        let key = |kind: FieldKind, v: Value| kind.key(&v).unwrap();
        let range = |kind, min: Option<&str>, max: Option<&str>| {
            FieldSearch::new(
                "f",
                kind,
                Predicate::Range {
                    min: min.map(Into::into),
                    max: max.map(Into::into),
                },
            )
        };
        let r = range(FieldKind::Number, Some("100"), Some("500")).unwrap();
        for (v, hit) in [
            (99.99, false),
            (100.0, true),
            (250.0, true),
            (500.0, true),
            (500.01, false),
        ] {
            assert_eq!(r.matches(&key(FieldKind::Number, json!(v)), a), hit, "{v}");
        }
        let open = range(FieldKind::Number, None, Some("0")).unwrap();
        assert!(open.matches(&key(FieldKind::Number, json!(-3)), a));
        let days = range(FieldKind::Date, Some("2026-12-01"), Some("2026-12-02")).unwrap();
        for (v, hit) in [
            ("2026-11-30T23:59:59Z", false),
            ("2026-12-01T00:00:00Z", true),
            ("2026-12-02T23:59:59.999Z", true),
            ("2026-12-03T00:00:00Z", false),
        ] {
            assert_eq!(days.matches(&key(FieldKind::Date, json!(v)), a), hit, "{v}");
        }
        // Before 1970 too, in order.
        let old = range(FieldKind::Date, Some("1950-01-01"), Some("1969-12-31")).unwrap();
        assert!(old.matches(&key(FieldKind::Date, json!("1969-07-20T20:17:00Z")), a));
        assert!(!old.matches(&key(FieldKind::Date, json!("1949-12-31T23:59:59Z")), a));
        assert!(!old.matches(&key(FieldKind::Date, json!("1970-01-01T00:00:00Z")), a));
        // "Is" a day: any time that day.
        let day =
            FieldSearch::new("f", FieldKind::Date, Predicate::Equals("2026-12-02".into())).unwrap();
        assert!(day.matches(&key(FieldKind::Date, json!("2026-12-02T15:30:00Z")), a));
        assert!(!day.matches(&key(FieldKind::Date, json!("2026-12-03T00:00:00Z")), a));
        assert!(range(FieldKind::Number, Some("5"), Some("1")).is_err());
        assert!(range(FieldKind::Text, Some("a"), None).is_err());
        assert!(range(FieldKind::Number, Some("many"), None).is_err());
        assert!(FieldSearch::new("f", FieldKind::Number, Predicate::Prefix("1".into())).is_err());
    }

    #[test]
    fn declarations_name_at_most_five_field_paths() {
        let many: Searchable = (0..6).map(|i| (format!("f{i}"), FieldKind::Text)).collect();
        assert_eq!(problems(&many).len(), 1);
        let bad: Searchable = [("a b".to_owned(), FieldKind::Text)].into();
        assert_eq!(problems(&bad)[0].0, "manual.searchable.a b");
    }
}
