//! A definition's figures minute by minute, for the console's charts: tasks
//! created, completed, failed and cancelled, failed attempts by error code,
//! and attempt durations as a histogram (so p50 and p95 can be read over any
//! span by adding minutes up). They are counted from the history entries the
//! change stream carries, the same entries the lifecycle events come from,
//! so every way a task moves (executor, sweeper, API, person) is counted
//! once, in the minute it happened.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Serialize;

use super::events::{EventType, events_of};
use super::history::HistoryEntry;
use super::ids::DefinitionName;
use super::task::TaskInstance;

/// Histogram buckets per doubling of the duration: each bucket spans a
/// factor of 2^(1/4), so a percentile read from it is within 9% of the
/// exact one.
const BUCKETS_PER_DOUBLING: f64 = 4.0;

/// The histogram bucket of a duration in milliseconds (0 for ≤ 1 ms).
pub fn duration_bucket(ms: i64) -> u32 {
    if ms <= 1 {
        return 0;
    }
    ((ms as f64).log2() * BUCKETS_PER_DOUBLING).floor() as u32
}

/// The duration a bucket stands for: the geometric middle of its span.
pub fn bucket_value(bucket: u32) -> i64 {
    (2f64.powf((bucket as f64 + 0.5) / BUCKETS_PER_DOUBLING)).round() as i64
}

/// What one definition's tasks did in a span of time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub created: u64,
    pub completed: u64,
    /// Tasks that ended FAILED (timed out included).
    pub failed: u64,
    pub cancelled: u64,
    /// Failed attempts (retried or final) by error code.
    pub errors: BTreeMap<String, u64>,
    /// Attempts by duration bucket (`duration_bucket`).
    pub durations: BTreeMap<u32, u64>,
}

impl Counts {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub fn add(&mut self, other: &Counts) {
        self.created += other.created;
        self.completed += other.completed;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
        for (bucket, n) in &other.durations {
            *self.durations.entry(*bucket).or_default() += n;
        }
    }

    /// Attempts that ended (those with a duration).
    pub fn attempts(&self) -> u64 {
        self.durations.values().sum()
    }

    /// The duration below which a share `q` (0 to 1) of attempts ended, in
    /// milliseconds; `None` without attempts.
    pub fn percentile(&self, q: f64) -> Option<i64> {
        let total = self.attempts();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        self.durations.iter().find_map(|(bucket, n)| {
            seen += n;
            (seen >= rank).then(|| bucket_value(*bucket))
        })
    }

    /// Counts what one history entry of `task` records.
    fn count(&mut self, task: &TaskInstance, entry: &HistoryEntry) {
        if let Some(ms) = entry.duration_ms {
            *self.durations.entry(duration_bucket(ms)).or_default() += 1;
        }
        for event in events_of(task, entry) {
            match event.event_type {
                EventType::Created => self.created += 1,
                EventType::Completed => self.completed += 1,
                EventType::Cancelled => self.cancelled += 1,
                EventType::Failed => self.failed += 1,
                _ => {}
            }
            // A timed-out attempt is announced twice (timed out, then failed
            // or retry scheduled); its error is counted once, on the second.
            if matches!(
                event.event_type,
                EventType::Failed | EventType::RetryScheduled
            ) && let Some(error) = &event.error
            {
                *self.errors.entry(error.code.clone()).or_default() += 1;
            }
        }
    }
}

/// Where counts are kept: one definition, one minute.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FigureKey {
    pub definition: String,
    pub minute: DateTime<Utc>,
}

/// The start of the minute `at` falls in.
pub fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

/// What these history entries add, by definition and minute. Tasks whose
/// definition name is not one (a request that named nothing valid) are not
/// counted: their names are whatever a sender wrote.
pub fn figures_of<'a>(
    entries: impl IntoIterator<Item = (&'a TaskInstance, &'a HistoryEntry)>,
) -> BTreeMap<FigureKey, Counts> {
    let mut figures: BTreeMap<FigureKey, Counts> = BTreeMap::new();
    for (task, entry) in entries {
        if DefinitionName::parse(&task.definition_name).is_err() {
            continue;
        }
        let key = FigureKey {
            definition: task.definition_name.clone(),
            minute: minute_of(entry.at),
        };
        let counts = figures.entry(key).or_default();
        counts.count(task, entry);
    }
    figures.retain(|_, counts| !counts.is_empty());
    figures
}

/// A queue's depth when the sweeper looked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Depth {
    pub waiting: u64,
    pub in_flight: u64,
}

/// Every queue's depth in one minute, by queue name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepthSample {
    pub minute: DateTime<Utc>,
    pub queues: BTreeMap<String, Depth>,
}

/// A chart's window: `minutes` long, ending with the minute of `now`, read
/// in steps of `step` minutes (a step aligned to its own length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub step: TimeDelta,
}

/// The shortest and longest window a chart is drawn over, in minutes.
pub const MIN_WINDOW_MINUTES: i64 = 5;
pub const MAX_WINDOW_MINUTES: i64 = 7 * 24 * 60;

impl Window {
    /// Steps of 1, 5, 15 or 60 minutes: 60 to 288 points on any window
    /// up to a week.
    pub fn ending_at(now: DateTime<Utc>, minutes: i64) -> Self {
        let minutes = minutes.clamp(MIN_WINDOW_MINUTES, MAX_WINDOW_MINUTES);
        let step = TimeDelta::minutes(if minutes <= 60 {
            1
        } else if minutes <= 360 {
            5
        } else if minutes <= 1440 {
            15
        } else {
            60
        });
        let until = (minute_of(now) + TimeDelta::minutes(1))
            .duration_round_up(step)
            .unwrap_or(now);
        Self {
            from: until - TimeDelta::minutes(minutes).max(step),
            until,
            step,
        }
    }

    /// Each step's start in the window, oldest first.
    pub fn steps(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        std::iter::successors(Some(self.from), |at| Some(*at + self.step))
            .take_while(|at| *at < self.until)
    }

    fn step_of(&self, at: DateTime<Utc>) -> Option<usize> {
        (at >= self.from && at < self.until)
            .then(|| ((at - self.from).num_minutes() / self.step.num_minutes()) as usize)
    }

    /// Minutes' counts added up into the window's steps; a step with
    /// nothing counted is there with zeros.
    pub fn counts(&self, minutes: &[(DateTime<Utc>, Counts)]) -> Vec<(DateTime<Utc>, Counts)> {
        let mut series: Vec<_> = self.steps().map(|at| (at, Counts::default())).collect();
        for (minute, counts) in minutes {
            if let Some(i) = self.step_of(*minute) {
                series[i].1.add(counts);
            }
        }
        series
    }

    /// Each queue's deepest sample in each step (waiting and in flight
    /// each at their most); a step without samples has none.
    pub fn depths(&self, samples: &[DepthSample]) -> Vec<DepthSample> {
        let mut series: Vec<DepthSample> = self
            .steps()
            .map(|minute| DepthSample {
                minute,
                queues: BTreeMap::new(),
            })
            .collect();
        for sample in samples {
            let Some(i) = self.step_of(sample.minute) else {
                continue;
            };
            for (queue, depth) in &sample.queues {
                let deepest = series[i].queues.entry(queue.clone()).or_default();
                deepest.waiting = deepest.waiting.max(depth.waiting);
                deepest.in_flight = deepest.in_flight.max(depth.in_flight);
            }
        }
        series
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_by_a_fourth_of_a_doubling() {
        assert_eq!(duration_bucket(0), 0);
        assert_eq!(duration_bucket(1), 0);
        assert_eq!(duration_bucket(2), 4);
        assert_eq!(duration_bucket(1024), 40);
        for ms in [3, 17, 250, 999, 45_000, 3_600_000] {
            let value = bucket_value(duration_bucket(ms)) as f64;
            let error = (value - ms as f64).abs() / ms as f64;
            assert!(error < 0.1, "{ms} ms reads back as {value} ms");
        }
    }

    #[test]
    fn percentiles_read_from_the_histogram() {
        let mut counts = Counts::default();
        assert_eq!(counts.percentile(0.5), None);
        for ms in 1..=100 {
            *counts
                .durations
                .entry(duration_bucket(ms * 10))
                .or_default() += 1;
        }
        let p50 = counts.percentile(0.5).unwrap();
        let p95 = counts.percentile(0.95).unwrap();
        assert!((460..=550).contains(&p50), "p50 {p50}");
        assert!((870..=1040).contains(&p95), "p95 {p95}");
        assert_eq!(counts.attempts(), 100);
    }

    #[test]
    fn adding_counts_adds_every_figure() {
        let mut a = Counts {
            created: 1,
            errors: BTreeMap::from([("X".into(), 2)]),
            durations: BTreeMap::from([(3, 1)]),
            ..Counts::default()
        };
        let b = Counts {
            completed: 4,
            errors: BTreeMap::from([("X".into(), 1), ("Y".into(), 1)]),
            durations: BTreeMap::from([(3, 2), (9, 1)]),
            ..Counts::default()
        };
        a.add(&b);
        assert_eq!(a.created, 1);
        assert_eq!(a.completed, 4);
        assert_eq!(a.errors, BTreeMap::from([("X".into(), 3), ("Y".into(), 1)]));
        assert_eq!(a.durations, BTreeMap::from([(3, 3), (9, 1)]));
    }

    #[test]
    fn minutes_start_on_the_minute() {
        let at = "2026-12-03T10:15:42.5Z".parse().unwrap();
        assert_eq!(
            minute_of(at),
            "2026-12-03T10:15:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn a_task_that_failed_once_then_completed_counts_both_attempts() {
        use crate::domain::state_machine::{Action, RetryWait, transition};
        use crate::domain::{TaskError, TaskStatus};
        let created = TaskInstance::sample(TaskStatus::Created);
        let now = created.created_at;
        let mut task = created.clone();
        task.history.push(HistoryEntry::new(
            1,
            now,
            "created",
            None,
            TaskStatus::Created,
            0,
        ));
        let step = |task: &TaskInstance, action| transition(task, action, now).unwrap().task;
        task = step(&task, Action::Start { lease_until: now });
        task = step(
            &task,
            Action::ScheduleRetry {
                error: TaskError::new("INTEGRATION_ERROR", "down"),
                retry_at: now,
                wait: RetryWait::Queue,
                redeliver_at: now,
            },
        );
        task = step(&task, Action::Start { lease_until: now });
        task = step(
            &task,
            Action::Complete {
                output: None,
                by: None,
            },
        );
        let figures = figures_of(task.history.iter().map(|h| (&task, h)));
        assert_eq!(figures.len(), 1, "one definition, one minute: {figures:?}");
        let (key, counts) = figures.into_iter().next().unwrap();
        assert_eq!(key.definition, "double");
        assert_eq!(key.minute, minute_of(now));
        assert_eq!((counts.created, counts.completed, counts.failed), (1, 1, 0));
        assert_eq!(
            counts.errors,
            BTreeMap::from([("INTEGRATION_ERROR".into(), 1)])
        );
        assert_eq!(counts.attempts(), 2);

        let mut unnamed = task.clone();
        unnamed.definition_name = "no such/name!".into();
        assert!(figures_of(unnamed.history.iter().map(|h| (&unnamed, h))).is_empty());
    }

    #[test]
    fn windows_end_with_the_current_minute_in_aligned_steps() {
        let now: DateTime<Utc> = "2026-12-03T10:15:42Z".parse().unwrap();
        let hour = Window::ending_at(now, 60);
        assert_eq!(
            hour.until,
            "2026-12-03T10:16:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            hour.from,
            "2026-12-03T09:16:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(hour.steps().count(), 60);
        let day = Window::ending_at(now, 1440);
        assert_eq!(day.step, TimeDelta::minutes(15));
        assert_eq!(
            day.until,
            "2026-12-03T10:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(day.steps().count(), 96);
        let week = Window::ending_at(now, 1_000_000);
        assert_eq!(week.steps().count(), 168);
        assert_eq!(Window::ending_at(now, 0).steps().count(), 5);
    }

    #[test]
    fn minutes_add_up_into_steps_and_depths_keep_their_peak() {
        let now: DateTime<Utc> = "2026-12-03T10:15:42Z".parse().unwrap();
        let window = Window::ending_at(now, 360);
        let at = |m: &str| m.parse::<DateTime<Utc>>().unwrap();
        let done = |n| Counts {
            completed: n,
            ..Counts::default()
        };
        let series = window.counts(&[
            (at("2026-12-03T10:11:00Z"), done(2)),
            (at("2026-12-03T10:14:00Z"), done(3)),
            (at("2026-12-03T04:00:00Z"), done(100)),
        ]);
        assert_eq!(series.len(), 72);
        let last = series.last().unwrap();
        assert_eq!((last.0, last.1.completed), (at("2026-12-03T10:15:00Z"), 0));
        assert_eq!(series[series.len() - 2].1.completed, 5);
        assert_eq!(series.iter().map(|(_, c)| c.completed).sum::<u64>(), 5);

        let sample = |minute: &str, waiting| DepthSample {
            minute: at(minute),
            queues: BTreeMap::from([(
                "execute".into(),
                Depth {
                    waiting,
                    in_flight: 1,
                },
            )]),
        };
        let depths = window.depths(&[
            sample("2026-12-03T10:11:00Z", 7),
            sample("2026-12-03T10:12:00Z", 40),
        ]);
        assert_eq!(depths[depths.len() - 2].queues["execute"].waiting, 40);
        assert!(depths[0].queues.is_empty());
    }
}
