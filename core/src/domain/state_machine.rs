//! The task state machine. `target` is the one place that says which status an
//! action may move a task from and to; `transition` builds the new task (its
//! history entry appended), the events that entry announces and the next
//! stage message. Stores only ever write what this module produced,
//! conditional on the status and version it started from.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::deadline::DeadlineKind;
use super::envelope::{Dispatch, Stage};
use super::events::{TaskEvent, events_of};
use super::history::{HistoryEntry, REPLAYED, RERUN};
use super::manual::{Assignee, ManualProgress, ManualSettings};
use super::payload::PayloadField;
use super::status::TaskStatus;
use super::task::TaskInstance;
use super::task_error::{TIMEOUT, TaskError};

use TaskStatus::*;

/// Where a retry waits: on the queue (the message is sent with a delay), or in
/// the deadline index when the delay is longer than a queue can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryWait {
    Queue,
    Deadline,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// An executor claims the task for a new attempt (its input was validated
    /// before the execute message was sent).
    Start {
        lease_until: DateTime<Utc>,
    },
    /// Output accepted (an attempt's, validated in the executor) or submitted
    /// by a person (manual).
    Complete {
        output: Option<Value>,
        by: Option<String>,
    },
    /// The attempt failed and the policy allows another.
    ScheduleRetry {
        error: TaskError,
        retry_at: DateTime<Utc>,
        wait: RetryWait,
        redeliver_at: DateTime<Utc>,
    },
    /// A long retry wait is over.
    ResumeRetry {
        redeliver_at: DateTime<Utc>,
    },
    /// The current stage's message is sent again; only the deadline moves.
    Redeliver {
        redeliver_at: DateTime<Utc>,
    },
    Fail {
        error: TaskError,
    },
    /// Gives a manual task to a user or group: first assignment, escalation
    /// (`escalated`), or a reassignment by an admin. `schedule` sets its
    /// reminder and escalation deadlines.
    Assign {
        assignee: Assignee,
        due_at: Option<DateTime<Utc>>,
        schedule: Option<ManualSettings>,
        escalated: bool,
        by: Option<String>,
    },
    /// A reminder of a manual task fell due.
    Remind {
        schedule: ManualSettings,
    },
    Claim {
        by: String,
    },
    Unclaim {
        by: String,
    },
    Cancel {
        reason: String,
        by: Option<String>,
    },
    /// A manual task passed its due time: it ends TIMED_OUT, or COMPLETED
    /// with the definition's default output.
    TimeOut {
        error: TaskError,
        default_output: Option<Value>,
    },
    /// A failed or timed-out task runs again from input validation.
    Rerun {
        by: Option<String>,
        redeliver_at: DateTime<Utc>,
    },
    /// A failed or timed-out task runs again from input validation with the
    /// input a manager corrected. `previous` says where the input it had is
    /// kept (`{"previousInputRef": …}`, or `{"previousInput": …}` without a
    /// payload store); it becomes the history entry's details.
    Replay {
        input: Value,
        previous: Value,
        by: Option<String>,
        redeliver_at: DateTime<Utc>,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Start { .. } => "started",
            Self::Complete { .. } => "completed",
            Self::ScheduleRetry { .. } => "retryScheduled",
            Self::ResumeRetry { .. } => "retryResumed",
            Self::Redeliver { .. } => "redelivered",
            Self::Fail { .. } => "failed",
            Self::Assign {
                escalated: true, ..
            } => "escalated",
            Self::Assign { .. } => "assigned",
            Self::Remind { .. } => "reminded",
            Self::Claim { .. } => "claimed",
            Self::Unclaim { .. } => "unclaimed",
            Self::Cancel { .. } => "cancelled",
            Self::TimeOut { .. } => "timedOut",
            Self::Rerun { .. } => RERUN,
            Self::Replay { .. } => REPLAYED,
        }
    }
}

/// The only definition of allowed transitions: the status `action` moves a
/// task in status `from` to, or `None` if it may not.
pub fn target(from: TaskStatus, action: &Action) -> Option<TaskStatus> {
    let to = match (action, from) {
        (Action::Start { .. }, Created | Queued) => Running,
        (Action::Complete { .. }, Running | Assigned | Claimed) => Completed,
        (
            Action::ScheduleRetry {
                wait: RetryWait::Queue,
                ..
            },
            Running,
        ) => Queued,
        (
            Action::ScheduleRetry {
                wait: RetryWait::Deadline,
                ..
            },
            Running,
        ) => RetryWait,
        (Action::ResumeRetry { .. }, RetryWait) => Queued,
        (Action::Redeliver { .. }, Created | Queued) => from,
        (Action::Fail { .. }, s) if !s.is_terminal() => Failed,
        (Action::Assign { .. }, Created | Assigned | Claimed) => Assigned,
        (Action::Claim { .. }, Assigned) => Claimed,
        (Action::Unclaim { .. }, Claimed) => Assigned,
        (Action::Cancel { .. }, s) if !s.is_terminal() => Cancelled,
        (Action::Remind { .. }, Assigned | Claimed) => from,
        (
            Action::TimeOut {
                default_output: None,
                ..
            },
            Assigned | Claimed,
        ) => TimedOut,
        (
            Action::TimeOut {
                default_output: Some(_),
                ..
            },
            Assigned | Claimed,
        ) => Completed,
        (Action::Rerun { .. } | Action::Replay { .. }, Failed | TimedOut) => Created,
        _ => return None,
    };
    Some(to)
}

/// An action the task's status does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot apply `{action}` to a task in status {from}")]
pub struct IllegalTransition {
    pub from: TaskStatus,
    pub action: &'static str,
}

/// A planned change: the task after it (its new history entry appended), the
/// events that entry announces, the stage message it asks for, and what the
/// task must still look like for the write to happen.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub expected_status: TaskStatus,
    pub expected_version: u64,
    pub task: TaskInstance,
    pub events: Vec<TaskEvent>,
    /// The next stage message, decided here and sent by the engine after the write.
    pub dispatch: Option<Dispatch>,
}

impl Transition {
    /// This transition and `action` after it, as one write: the first's
    /// expected status and version (what the table must still hold), the
    /// second's task and stage message, the events of both in order. How an
    /// attempt's start is written together with its end (`tel_engine::claim`).
    pub fn then(&self, action: Action, now: DateTime<Utc>) -> Result<Self, IllegalTransition> {
        let second = transition(&self.task, action, now)?;
        let mut events = self.events.clone();
        events.extend(second.events);
        Ok(Self {
            expected_status: self.expected_status,
            expected_version: self.expected_version,
            task: second.task,
            events,
            dispatch: second.dispatch,
        })
    }

    /// The history entry this transition adds.
    pub fn entry(&self) -> &HistoryEntry {
        self.task
            .history
            .last()
            .expect("a transition adds an entry")
    }
}

pub fn transition(
    task: &TaskInstance,
    action: Action,
    now: DateTime<Utc>,
) -> Result<Transition, IllegalTransition> {
    let from = task.status;
    let to = target(from, &action).ok_or(IllegalTransition {
        from,
        action: action.name(),
    })?;
    let mut next = task.clone();
    next.status = to;
    next.version += 1;
    next.updated_at = now;
    let mut history = HistoryEntry {
        version: next.version,
        at: now,
        action: action.name().to_owned(),
        from: Some(from),
        to,
        attempt: task.attempt,
        actor: None,
        attempt_started_at: None,
        duration_ms: None,
        outcome: None,
        details: Value::Null,
    };
    let mut dispatch = None;

    match action {
        Action::ResumeRetry { redeliver_at } => {
            next.deadlines = deadline(DeadlineKind::Redeliver, redeliver_at);
            dispatch = Some(Dispatch::now(Stage::Execute));
        }
        Action::Redeliver { redeliver_at } => {
            next.deadlines = deadline(DeadlineKind::Redeliver, redeliver_at);
            dispatch = Stage::awaited_by(from, task.task_type).map(Dispatch::now);
        }
        Action::Start { lease_until } => {
            next.attempt += 1;
            next.attempt_started_at = Some(now);
            next.deadlines = deadline(DeadlineKind::Lease, lease_until);
            history.attempt = next.attempt;
        }
        Action::Complete { output, by } => {
            if from == Running {
                end_attempt(task, &mut history, "succeeded", now);
            }
            if let Some(output) = output {
                next.set_payload(PayloadField::Output, output, None);
            }
            next.error = None;
            finish(&mut next, now);
            next.completed_by = by.clone();
            history.actor = by;
        }
        Action::ScheduleRetry {
            error,
            retry_at,
            wait,
            redeliver_at,
        } => {
            next.deadlines = match wait {
                RetryWait::Queue => {
                    let wait = (retry_at - now).num_milliseconds().max(0) as u64;
                    dispatch = Some(Dispatch {
                        stage: Stage::Execute,
                        delay_seconds: wait.div_ceil(1000) as u32,
                    });
                    deadline(DeadlineKind::Redeliver, redeliver_at)
                }
                RetryWait::Deadline => deadline(DeadlineKind::RetryAt, retry_at),
            };
            end_attempt(task, &mut history, outcome_of(&error), now);
            history.details = json!({ "error": error, "retryAt": retry_at });
            next.error = Some(error);
        }
        Action::Fail { error } => {
            if from == Running {
                end_attempt(task, &mut history, outcome_of(&error), now);
            }
            finish(&mut next, now);
            history.details = json!({ "error": error });
            next.error = Some(error);
        }
        Action::Assign {
            assignee,
            due_at,
            schedule,
            escalated,
            by,
        } => {
            next.assignee = Some(assignee.clone());
            if due_at.is_some() {
                next.due_at = due_at;
            }
            let mut progress = task
                .manual
                .clone()
                .unwrap_or_else(|| ManualProgress::start(now));
            progress.last_assigned_at = now;
            progress.pool = None;
            if escalated {
                progress.escalation_level += 1;
            }
            next.manual = Some(progress.clone());
            if let Some(settings) = &schedule {
                next.search_keys = settings.search_keys(&task.input, &task.context);
            }
            next.deadlines = match &schedule {
                Some(schedule) => schedule.deadlines(&progress, next.due_at),
                None => next
                    .due_at
                    .map(|d| deadline(DeadlineKind::Due, d))
                    .unwrap_or_default(),
            };
            history.actor = by;
            // Whoever held it before hears that it was taken (notifications).
            history.details = match task.assignee.as_ref().filter(|a| **a != assignee) {
                Some(previous) => json!({ "assignee": assignee, "previousAssignee": previous }),
                None => json!({ "assignee": assignee }),
            };
        }
        Action::Remind { schedule } => {
            let mut progress = task
                .manual
                .clone()
                .unwrap_or_else(|| ManualProgress::start(now));
            progress.reminders_sent += 1;
            next.deadlines = schedule.deadlines(&progress, next.due_at);
            history.details = json!({ "reminder": progress.reminders_sent });
            next.manual = Some(progress);
        }
        Action::Claim { by } => {
            let mut progress = task
                .manual
                .clone()
                .unwrap_or_else(|| ManualProgress::start(now));
            progress.pool = task.assignee.clone();
            next.manual = Some(progress);
            next.assignee = Some(Assignee {
                kind: super::manual::AssigneeType::User,
                id: by.clone(),
            });
            history.details = json!({ "previousAssignee": task.assignee });
            history.actor = Some(by);
        }
        Action::Unclaim { by } => {
            // Back to whoever held it before the claim (a group, usually).
            if let Some(pool) = next.manual.as_mut().and_then(|p| p.pool.take()) {
                next.assignee = Some(pool);
            }
            history.actor = Some(by);
        }
        Action::Cancel { reason, by } => {
            if from == Running {
                end_attempt(task, &mut history, "cancelled", now);
            }
            finish(&mut next, now);
            history.actor = by;
            history.details = json!({ "reason": reason });
        }
        Action::TimeOut {
            error,
            default_output,
        } => {
            finish(&mut next, now);
            history.details = json!({ "error": error });
            match default_output {
                Some(output) => next.set_payload(PayloadField::Output, output, None),
                None => next.error = Some(error),
            }
        }
        Action::Rerun { by, redeliver_at } => {
            start_over(&mut next, redeliver_at, now);
            history.actor = by;
            dispatch = Some(Dispatch::now(Stage::first(task.task_type)));
        }
        Action::Replay {
            input,
            previous,
            by,
            redeliver_at,
        } => {
            start_over(&mut next, redeliver_at, now);
            next.set_payload(PayloadField::Input, input, None);
            history.details = previous;
            history.actor = by;
            dispatch = Some(Dispatch::now(Stage::first(task.task_type)));
        }
    }
    next.apply_standing_deadlines(task.deadlines.get(&DeadlineKind::Heartbeat).copied(), now);
    next.schedule_wake(task.wake_at);
    next.history.push(history.compact());
    let events = events_of(&next, next.history.last().expect("just added"));
    Ok(Transition {
        expected_status: from,
        expected_version: task.version,
        task: next,
        events,
        dispatch,
    })
}

fn deadline(kind: DeadlineKind, at: DateTime<Utc>) -> BTreeMap<DeadlineKind, DateTime<Utc>> {
    BTreeMap::from([(kind, at)])
}

/// A failed or timed-out task as it is before its input is validated again.
/// The step that waited on it (Step Functions) already heard of its end, so
/// its token is spent: kept, it would draw heartbeats the step refuses and
/// the sweeper would cancel the task. Its whole-task budgets count again
/// from now, as long as they were from its creation.
fn start_over(task: &mut TaskInstance, redeliver_at: DateTime<Utc>, now: DateTime<Utc>) {
    task.callback = None;
    task.start_by = task.start_by.map(|at| now + (at - task.created_at));
    task.close_by = task.close_by.map(|at| now + (at - task.created_at));
    task.attempt = 0;
    task.error = None;
    task.set_payload(PayloadField::Output, Value::Null, None);
    task.finished_at = None;
    task.attempt_started_at = None;
    task.deadlines = deadline(DeadlineKind::Redeliver, redeliver_at);
}

fn finish(task: &mut TaskInstance, now: DateTime<Utc>) {
    task.deadlines.clear();
    task.finished_at = Some(now);
}

fn end_attempt(
    before: &TaskInstance,
    history: &mut HistoryEntry,
    outcome: &str,
    now: DateTime<Utc>,
) {
    history.attempt_started_at = before.attempt_started_at;
    history.duration_ms = before.attempt_started_at.map(|at| millis_between(at, now));
    history.outcome = Some(outcome.to_owned());
}

fn outcome_of(error: &TaskError) -> &'static str {
    if error.code == TIMEOUT {
        "timedOut"
    } else {
        "failed"
    }
}

pub fn millis_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_milliseconds()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::EventType;
    use crate::domain::task_error::EXECUTION_ERROR;

    fn task(status: TaskStatus) -> TaskInstance {
        TaskInstance::sample(status)
    }

    #[test]
    fn the_automated_happy_path_is_two_transitions_after_creation() {
        let now = Utc::now();
        let t = task(Created);
        let started = transition(&t, Action::Start { lease_until: now }, now).unwrap();
        assert_eq!(started.task.attempt, 1);
        assert_eq!(started.events[0].event_type, EventType::Started);
        assert_eq!(started.task.next_deadline().unwrap().0, DeadlineKind::Lease);
        assert_eq!(started.dispatch, None, "the executor runs it right away");
        let done = transition(
            &started.task,
            Action::Complete {
                output: Some(json!({"n": 2})),
                by: None,
            },
            now,
        )
        .unwrap();
        assert_eq!(done.task.status, Completed);
        assert_eq!(done.entry().outcome.as_deref(), Some("succeeded"));
        assert!(
            done.task.deadlines.is_empty() && done.task.wake_at.is_none(),
            "a terminal task leaves the deadline index"
        );
        assert_eq!(done.events[0].output, Some(json!({"n": 2})));
        assert_eq!(done.task.version, 3);
        assert_eq!(done.expected_version, 2);
        let actions: Vec<&str> = done
            .task
            .history
            .iter()
            .map(|h| h.action.as_str())
            .collect();
        assert_eq!(actions, ["started", "completed"]);
    }

    /// A start held back and written with the attempt's end: one write
    /// expecting what the table held before the start, both history entries
    /// and both events in order, the second transition's stage message.
    #[test]
    fn a_start_then_its_end_is_one_write_with_both_entries() {
        let now = Utc::now();
        let t = task(Created);
        let later = now + chrono::Duration::milliseconds(40);
        let started = transition(&t, Action::Start { lease_until: now }, now).unwrap();
        let done = started
            .then(
                Action::Complete {
                    output: Some(json!({"n": 2})),
                    by: None,
                },
                later,
            )
            .unwrap();
        assert_eq!(
            (done.expected_status, done.expected_version),
            (Created, t.version)
        );
        assert_eq!(done.task.version, t.version + 2);
        assert_eq!(done.task.status, Completed);
        let types: Vec<_> = done.events.iter().map(|e| e.event_type).collect();
        assert_eq!(types, [EventType::Started, EventType::Completed]);
        let entries: Vec<(&str, u64)> = done
            .task
            .history
            .iter()
            .map(|h| (h.action.as_str(), h.version))
            .collect();
        assert_eq!(
            entries,
            [("started", t.version + 1), ("completed", t.version + 2)]
        );
        assert_eq!(done.entry().duration_ms, Some(40), "timed from the start");
        assert!(done.task.deadlines.is_empty() && done.task.wake_at.is_none());

        // A retry on the queue asks for its message; an illegal second step is refused.
        let started = transition(&t, Action::Start { lease_until: now }, now).unwrap();
        let retry = started
            .then(
                Action::ScheduleRetry {
                    error: TaskError::new(EXECUTION_ERROR, "boom"),
                    retry_at: later,
                    wait: RetryWait::Queue,
                    redeliver_at: later,
                },
                later,
            )
            .unwrap();
        assert_eq!(retry.task.status, Queued, "waiting on its delayed message");
        assert_eq!(retry.dispatch.map(|d| d.stage), Some(Stage::Execute));
        assert!(
            started
                .then(Action::Start { lease_until: now }, now)
                .is_err()
        );
    }

    #[test]
    fn an_earlier_wake_up_is_kept_and_a_later_deadline_does_not_move_it() {
        let now = Utc::now();
        let mut t = task(Created);
        t.deadlines = deadline(DeadlineKind::Redeliver, now + chrono::Duration::seconds(30));
        t.schedule_wake(None);
        let lease = now + chrono::Duration::seconds(40);
        let started = transition(&t, Action::Start { lease_until: lease }, now).unwrap();
        assert_eq!(
            started.task.wake_at,
            Some(now + chrono::Duration::seconds(30)),
            "no index write for the start"
        );
        let soon = now + chrono::Duration::seconds(5);
        let short = transition(&t, Action::Start { lease_until: soon }, now).unwrap();
        assert_eq!(
            short.task.wake_at,
            Some(soon),
            "never later than a deadline"
        );
    }

    #[test]
    fn terminal_tasks_accept_no_further_work() {
        let now = Utc::now();
        for status in [Completed, Failed, Cancelled, TimedOut] {
            let t = task(status);
            for action in [
                Action::Start { lease_until: now },
                Action::Fail {
                    error: TaskError::new(EXECUTION_ERROR, "x"),
                },
                Action::Cancel {
                    reason: "x".into(),
                    by: None,
                },
                Action::Complete {
                    output: None,
                    by: None,
                },
            ] {
                let err = transition(&t, action, now).unwrap_err();
                assert_eq!(err.from, status);
            }
        }
    }

    #[test]
    fn a_duplicate_start_is_illegal() {
        let now = Utc::now();
        let running = transition(&task(Queued), Action::Start { lease_until: now }, now)
            .unwrap()
            .task;
        let err = transition(&running, Action::Start { lease_until: now }, now).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot apply `started` to a task in status RUNNING"
        );
    }

    #[test]
    fn a_timeout_retry_announces_timed_out_and_retry_scheduled() {
        let now = Utc::now();
        let running = transition(&task(Queued), Action::Start { lease_until: now }, now)
            .unwrap()
            .task;
        let retry = Action::ScheduleRetry {
            error: TaskError::new(TIMEOUT, "lease expired"),
            retry_at: now,
            wait: RetryWait::Deadline,
            redeliver_at: now,
        };
        let t = transition(&running, retry, now).unwrap();
        assert_eq!(t.task.status, RetryWait);
        let types: Vec<_> = t.events.iter().map(|e| e.event_type).collect();
        assert_eq!(types, vec![EventType::TimedOut, EventType::RetryScheduled]);
        assert_eq!(t.entry().outcome.as_deref(), Some("timedOut"));
        assert_eq!(t.task.next_deadline().unwrap().0, DeadlineKind::RetryAt);
        assert_eq!(t.dispatch, None, "the sweeper resumes it");
    }

    #[test]
    fn a_short_retry_asks_for_a_delayed_execute_message() {
        let now = Utc::now();
        let running = transition(&task(Queued), Action::Start { lease_until: now }, now)
            .unwrap()
            .task;
        let retry = Action::ScheduleRetry {
            error: TaskError::new(EXECUTION_ERROR, "boom"),
            retry_at: now + chrono::Duration::milliseconds(2500),
            wait: RetryWait::Queue,
            redeliver_at: now,
        };
        let t = transition(&running, retry, now).unwrap();
        assert_eq!(
            t.dispatch,
            Some(Dispatch {
                stage: Stage::Execute,
                delay_seconds: 3
            })
        );
    }

    #[test]
    fn events_are_a_function_of_the_stored_task_with_stable_ids() {
        let now = Utc::now();
        let running = transition(&task(Created), Action::Start { lease_until: now }, now).unwrap();
        let again = events_of(&running.task, running.entry());
        assert_eq!(again, running.events, "derived again from what is stored");
        let id = running.task.task_instance_id;
        assert_eq!(
            running.events[0].event_id,
            crate::domain::events::event_id(id, 2, 0)
        );
        assert_ne!(
            crate::domain::events::event_id(id, 2, 0),
            crate::domain::events::event_id(id, 2, 1)
        );
    }

    #[test]
    fn a_task_run_again_drops_its_spent_step_token_and_counts_its_budgets_from_now() {
        let created_at = Utc::now() - chrono::Duration::hours(2);
        let mut failed = task(Failed);
        failed.created_at = created_at;
        failed.callback = Some(crate::domain::Callback {
            task_token: "answered-already".into(),
            heartbeat_seconds: 60,
            envelope: false,
        });
        failed.close_by = Some(created_at + chrono::Duration::minutes(30));
        failed.start_by = Some(created_at + chrono::Duration::minutes(5));
        let now = Utc::now();
        for action in [
            Action::Rerun {
                by: None,
                redeliver_at: now,
            },
            Action::Replay {
                input: json!({ "n": 1 }),
                previous: json!({}),
                by: None,
                redeliver_at: now,
            },
        ] {
            let again = transition(&failed, action, now).unwrap().task;
            assert!(
                again.callback.is_none(),
                "the step heard of the failure already"
            );
            assert!(!again.deadlines.contains_key(&DeadlineKind::Heartbeat));
            assert_eq!(again.close_by, Some(now + chrono::Duration::minutes(30)));
            assert_eq!(again.start_by, Some(now + chrono::Duration::minutes(5)));
            assert!(again.deadlines[&DeadlineKind::CloseBy] > now);
        }
    }

    #[test]
    fn every_status_and_action_pair_is_decided_by_target_alone() {
        let now = Utc::now();
        let actions = [
            Action::Start { lease_until: now },
            Action::Claim { by: "u".into() },
            Action::Redeliver { redeliver_at: now },
            Action::Rerun {
                by: None,
                redeliver_at: now,
            },
            Action::Replay {
                input: json!({}),
                previous: json!({}),
                by: None,
                redeliver_at: now,
            },
        ];
        for status in TaskStatus::ALL {
            for action in &actions {
                let planned = transition(&task(status), action.clone(), now);
                assert_eq!(planned.ok().map(|t| t.task.status), target(status, action));
            }
        }
    }
}
