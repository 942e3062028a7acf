//! The task state machine. `target` is the one place that says which status an
//! action may move a task from and to; `transition` builds the new task, its
//! history entry and its events from that. Stores only ever write what this
//! module produced, conditional on the status and version it started from.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::events::{EventType, TaskEvent};
use super::history::HistoryEntry;
use super::manual::{Assignee, ManualProgress, ManualSettings};
use super::task::{DeadlineKind, TaskInstance, TaskStatus};
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
    /// Input matched the schema.
    AcceptInput {
        redeliver_at: DateTime<Utc>,
    },
    /// An executor claims the task for a new attempt.
    Start {
        lease_until: DateTime<Utc>,
    },
    /// The attempt produced output, to be validated.
    ProduceOutput {
        output: Value,
        redeliver_at: DateTime<Utc>,
    },
    /// Output accepted (automated) or submitted by a person (manual).
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
    /// The current stage's message is re-sent; only the deadline moves.
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
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Self::AcceptInput { .. } => "inputAccepted",
            Self::Start { .. } => "started",
            Self::ProduceOutput { .. } => "outputProduced",
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
            Self::Rerun { .. } => "rerun",
        }
    }
}

/// The only definition of allowed transitions: the status `action` moves a
/// task in status `from` to, or `None` if it may not.
pub fn target(from: TaskStatus, action: &Action) -> Option<TaskStatus> {
    let to = match (action, from) {
        (Action::AcceptInput { .. }, Created) => Queued,
        (Action::Start { .. }, Queued) => Running,
        (Action::ProduceOutput { .. }, Running) => OutputPending,
        (Action::Complete { .. }, OutputPending | Assigned | Claimed) => Completed,
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
        (Action::Redeliver { .. }, Created | Queued | OutputPending) => from,
        (Action::Fail { .. }, s) if !s.is_terminal() => Failed,
        (Action::Assign { .. }, Queued | Assigned | Claimed) => Assigned,
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
        (Action::Rerun { .. }, Failed | TimedOut) => Created,
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

/// A planned change: the task after it, its history entry and its events,
/// plus what the task must still look like for the write to happen.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub expected_status: TaskStatus,
    pub expected_version: u64,
    pub task: TaskInstance,
    pub history: HistoryEntry,
    pub events: Vec<TaskEvent>,
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
    let mut events = Vec::new();

    match action {
        Action::AcceptInput { redeliver_at }
        | Action::ResumeRetry { redeliver_at }
        | Action::Redeliver { redeliver_at } => {
            next.deadlines = deadline(DeadlineKind::Redeliver, redeliver_at);
        }
        Action::Start { lease_until } => {
            next.attempt += 1;
            next.attempt_started_at = Some(now);
            next.deadlines = deadline(DeadlineKind::Lease, lease_until);
            history.attempt = next.attempt;
            events.push(TaskEvent::about(EventType::Started, &next, now));
        }
        Action::ProduceOutput {
            output,
            redeliver_at,
        } => {
            next.output = Some(output);
            next.error = None;
            next.deadlines = deadline(DeadlineKind::Redeliver, redeliver_at);
            end_attempt(task, &mut history, "succeeded", now);
        }
        Action::Complete { output, by } => {
            if let Some(output) = output {
                next.output = Some(output);
            }
            finish(&mut next, now);
            next.completed_by = by.clone();
            history.actor = by;
            let mut event = TaskEvent::about(EventType::Completed, &next, now);
            event.output = next.output.clone();
            event.attempts = Some(next.attempt);
            event.duration_ms = Some(millis_between(next.created_at, now));
            event.completed_by = next.completed_by.clone();
            events.push(event);
        }
        Action::ScheduleRetry {
            error,
            retry_at,
            wait,
            redeliver_at,
        } => {
            next.deadlines = match wait {
                RetryWait::Queue => deadline(DeadlineKind::Redeliver, redeliver_at),
                RetryWait::Deadline => deadline(DeadlineKind::RetryAt, retry_at),
            };
            end_attempt(task, &mut history, outcome_of(&error), now);
            history.details = json!({ "error": error, "retryAt": retry_at });
            push_timed_out(&mut events, &next, &error, now);
            let mut event = TaskEvent::about(EventType::RetryScheduled, &next, now);
            event.retry_at = Some(retry_at);
            event.error = Some(error.clone());
            events.push(event);
            next.error = Some(error);
        }
        Action::Fail { error } => {
            if from == Running {
                end_attempt(task, &mut history, outcome_of(&error), now);
            }
            finish(&mut next, now);
            history.details = json!({ "error": error });
            push_timed_out(&mut events, &next, &error, now);
            next.error = Some(error);
            events.push(failed_event(&next, now));
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
            next.deadlines = match &schedule {
                Some(schedule) => schedule.deadlines(&progress, next.due_at),
                None => next
                    .due_at
                    .map(|d| deadline(DeadlineKind::Due, d))
                    .unwrap_or_default(),
            };
            history.actor = by;
            history.details = json!({ "assignee": assignee });
            let kind = if escalated {
                EventType::Escalated
            } else {
                EventType::Assigned
            };
            let mut event = TaskEvent::about(kind, &next, now);
            event.assignee_type = Some(assignee.kind);
            event.assignee_id = Some(assignee.id);
            events.push(event);
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
            let mut event = TaskEvent::about(EventType::Reminder, &next, now);
            event.assignee_type = next.assignee.as_ref().map(|a| a.kind);
            event.assignee_id = next.assignee.as_ref().map(|a| a.id.clone());
            events.push(event);
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
            history.actor = Some(by.clone());
            let mut event = TaskEvent::about(EventType::Claimed, &next, now);
            event.assignee_type = Some(super::manual::AssigneeType::User);
            event.assignee_id = Some(by);
            events.push(event);
        }
        Action::Unclaim { by } => {
            // Back to whoever held it before the claim (a group, usually).
            if let Some(pool) = next.manual.as_mut().and_then(|p| p.pool.take()) {
                next.assignee = Some(pool);
            }
            history.actor = Some(by);
            let mut event = TaskEvent::about(EventType::Unclaimed, &next, now);
            event.assignee_type = next.assignee.as_ref().map(|a| a.kind);
            event.assignee_id = next.assignee.as_ref().map(|a| a.id.clone());
            events.push(event);
        }
        Action::Cancel { reason, by } => {
            if from == Running {
                end_attempt(task, &mut history, "cancelled", now);
            }
            finish(&mut next, now);
            history.actor = by;
            history.details = json!({ "reason": reason });
            let mut event = TaskEvent::about(EventType::Cancelled, &next, now);
            event.reason = Some(reason);
            events.push(event);
        }
        Action::TimeOut {
            error,
            default_output,
        } => {
            finish(&mut next, now);
            history.details = json!({ "error": error });
            let mut event = TaskEvent::about(EventType::TimedOut, &next, now);
            event.error = Some(error.clone());
            events.push(event);
            match default_output {
                Some(output) => {
                    next.output = Some(output);
                    let mut event = TaskEvent::about(EventType::Completed, &next, now);
                    event.output = next.output.clone();
                    event.attempts = Some(next.attempt);
                    event.duration_ms = Some(millis_between(next.created_at, now));
                    events.push(event);
                }
                None => {
                    next.error = Some(error);
                    events.push(failed_event(&next, now));
                }
            }
        }
        Action::Rerun { by, redeliver_at } => {
            next.attempt = 0;
            next.error = None;
            next.output = None;
            next.finished_at = None;
            next.attempt_started_at = None;
            next.deadlines = deadline(DeadlineKind::Redeliver, redeliver_at);
            history.actor = by;
        }
    }
    next.apply_budgets();
    Ok(Transition {
        expected_status: from,
        expected_version: task.version,
        task: next,
        history,
        events,
    })
}

fn deadline(kind: DeadlineKind, at: DateTime<Utc>) -> BTreeMap<DeadlineKind, DateTime<Utc>> {
    BTreeMap::from([(kind, at)])
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

/// A lease or sandbox timeout is also announced as `task.timed_out`.
fn push_timed_out(
    events: &mut Vec<TaskEvent>,
    task: &TaskInstance,
    error: &TaskError,
    now: DateTime<Utc>,
) {
    if error.code == TIMEOUT {
        let mut event = TaskEvent::about(EventType::TimedOut, task, now);
        event.error = Some(error.clone());
        events.push(event);
    }
}

fn failed_event(task: &TaskInstance, now: DateTime<Utc>) -> TaskEvent {
    let mut event = TaskEvent::about(EventType::Failed, task, now);
    event.error = task.error.clone();
    event.attempts = Some(task.attempt);
    event.duration_ms = Some(millis_between(task.created_at, now));
    event
}

pub fn millis_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_milliseconds()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::TaskInstanceId;
    use crate::domain::task_error::EXECUTION_ERROR;

    fn task(status: TaskStatus) -> TaskInstance {
        let now = Utc::now();
        TaskInstance {
            task_instance_id: TaskInstanceId::new(),
            definition_name: "double".into(),
            definition_version: 1,
            task_type: None,
            workflow_instance_id: "wf-1".into(),
            step_id: "s1".into(),
            status,
            input: json!({}),
            context: Value::Null,
            output: None,
            error: None,
            attempt: 0,
            priority: 0,
            assignee: None,
            due_at: None,
            start_by: None,
            close_by: None,
            manual: None,
            deadlines: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            attempt_started_at: None,
            finished_at: None,
            completed_by: None,
            trace_id: None,
            version: 1,
        }
    }

    #[test]
    fn the_automated_happy_path_is_allowed_in_order() {
        let now = Utc::now();
        let t = task(Created);
        let t = transition(&t, Action::AcceptInput { redeliver_at: now }, now)
            .unwrap()
            .task;
        assert_eq!(t.status, Queued);
        let started = transition(&t, Action::Start { lease_until: now }, now).unwrap();
        assert_eq!(started.task.attempt, 1);
        assert_eq!(started.events[0].event_type, EventType::Started);
        assert_eq!(started.task.next_deadline().unwrap().0, DeadlineKind::Lease);
        let out = Action::ProduceOutput {
            output: json!({"n": 2}),
            redeliver_at: now,
        };
        let produced = transition(&started.task, out, now).unwrap();
        assert_eq!(produced.history.outcome.as_deref(), Some("succeeded"));
        let done = transition(
            &produced.task,
            Action::Complete {
                output: None,
                by: None,
            },
            now,
        )
        .unwrap();
        assert_eq!(done.task.status, Completed);
        assert!(
            done.task.deadlines.is_empty(),
            "a terminal task leaves the deadline index"
        );
        assert_eq!(done.events[0].output, Some(json!({"n": 2})));
        assert_eq!(done.task.version, 5);
        assert_eq!(done.expected_version, 4);
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
        assert_eq!(t.history.outcome.as_deref(), Some("timedOut"));
        assert_eq!(t.task.next_deadline().unwrap().0, DeadlineKind::RetryAt);
    }

    #[test]
    fn every_status_and_action_pair_is_decided_by_target_alone() {
        let now = Utc::now();
        let actions = [
            Action::AcceptInput { redeliver_at: now },
            Action::Start { lease_until: now },
            Action::Claim { by: "u".into() },
            Action::Rerun {
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
