//! A task's life as spans of time, from its history: waiting on a queue,
//! running an attempt, waiting for a retry, waiting on a person. For people
//! looking at one task (`tel task`, the console) beside its trace id.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::history::HistoryEntry;
use super::status::TaskStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SpanKind {
    /// Created or queued: waiting for validation or an executor.
    Queued,
    /// An attempt running.
    Running,
    /// Waiting out a retry's delay.
    Waiting,
    /// Assigned or claimed: waiting on a person.
    WithPerson,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub kind: SpanKind,
    pub attempt: u32,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Still going on (`to` is now).
    pub open: bool,
}

impl Span {
    pub fn millis(&self) -> i64 {
        (self.to - self.from).num_milliseconds()
    }
}

fn kind_in(status: TaskStatus) -> Option<SpanKind> {
    match status {
        TaskStatus::Created | TaskStatus::Queued => Some(SpanKind::Queued),
        TaskStatus::Running => Some(SpanKind::Running),
        TaskStatus::RetryWait => Some(SpanKind::Waiting),
        TaskStatus::Assigned | TaskStatus::Claimed => Some(SpanKind::WithPerson),
        _ => None,
    }
}

/// The spans of a task's history (oldest entry first); the last one, if the
/// task is unfinished, runs until `now`.
pub fn timeline(history: &[HistoryEntry], now: DateTime<Utc>) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    for (i, entry) in history.iter().enumerate() {
        let Some(kind) = kind_in(entry.to) else {
            continue;
        };
        let (to, open) = match history.get(i + 1) {
            Some(next) => (next.at, false),
            None => (now.max(entry.at), true),
        };
        // A transition within the same kind (a claim, a re-send) extends it.
        match spans.last_mut() {
            Some(last)
                if last.kind == kind && last.to == entry.at && last.attempt == entry.attempt =>
            {
                last.to = to;
                last.open = open;
            }
            _ => spans.push(Span {
                kind,
                attempt: entry.attempt,
                from: entry.at,
                to,
                open,
            }),
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    fn entry(ms: i64, action: &str, to: TaskStatus, attempt: u32) -> HistoryEntry {
        HistoryEntry::new(0, at(ms), action, None, to, attempt)
    }

    #[test]
    fn a_retried_task_waits_runs_waits_and_runs_again() {
        use TaskStatus::*;
        let history = [
            entry(0, "created", Created, 0),
            entry(40, "started", Running, 1),
            entry(240, "retryScheduled", RetryWait, 1),
            entry(1240, "retryResumed", Queued, 1),
            entry(1250, "started", Running, 2),
            entry(1400, "completed", Completed, 2),
        ];
        let spans = timeline(&history, at(5000));
        let shape: Vec<(SpanKind, u32, i64)> = spans
            .iter()
            .map(|s| (s.kind, s.attempt, s.millis()))
            .collect();
        assert_eq!(
            shape,
            [
                (SpanKind::Queued, 0, 40),
                (SpanKind::Running, 1, 200),
                (SpanKind::Waiting, 1, 1000),
                (SpanKind::Queued, 1, 10),
                (SpanKind::Running, 2, 150),
            ]
        );
        assert!(spans.iter().all(|s| !s.open));
    }

    #[test]
    fn a_manual_task_in_a_persons_hands_is_one_open_span_across_a_claim() {
        use TaskStatus::*;
        let history = [
            entry(0, "created", Created, 0),
            entry(10, "assigned", Assigned, 0),
            entry(500, "claimed", Claimed, 0),
        ];
        let spans = timeline(&history, at(2000));
        assert_eq!(spans.len(), 2);
        assert_eq!(
            (spans[1].kind, spans[1].millis(), spans[1].open),
            (SpanKind::WithPerson, 1990, true)
        );
    }
}
