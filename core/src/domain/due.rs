//! What a task's due deadlines trigger: the one place that reads a task's
//! deadlines against the time and says what happens next. The sweeper reads
//! the due entries of the deadline index, asks `next_due_step` for each task,
//! applies the answer through the engine, and asks again with the task as it
//! is after (one task may have several deadlines due at once: a reminder and
//! an escalation), until nothing is due.
//!
//! The deadline-only writes (a heartbeat moved on, a wake-up moved to the
//! real deadline, a re-send deferred) are `DeadlineWrite` plans built here
//! too, so stores write only what the domain produced.

use chrono::{DateTime, Duration, Utc};

use super::deadline::DeadlineKind;
use super::manual::ManualSettings;
use super::status::TaskStatus;
use super::task::TaskInstance;

/// The next thing to do about a task woken by its deadline, earliest
/// concern first.
#[derive(Debug, Clone, PartialEq)]
pub enum DueStep {
    /// Nothing is due, and the task's wake-up is at its earliest deadline.
    Nothing,
    /// Nothing is due: the task was woken early (its wake-up is kept early to
    /// spare index writes), or its deadline moved. The wake-up moves to its
    /// earliest deadline (`DeadlineWrite::wake_at`; none: it leaves the index).
    WakeUp(Option<DateTime<Utc>>),
    /// Tell the step waiting on the task that it is alive (Step Functions
    /// `SendTaskHeartbeat`), then move the next heartbeat on.
    Heartbeat,
    /// The whole-task budget (`CloseBy` or `StartBy`) ran out: the task fails
    /// with `TIMEOUT`, whatever it was doing.
    ExceedBudget(DeadlineKind),
    /// The running attempt's lease ran out: its executor died or hung.
    ExpireLease,
    /// A retry waiting in the index (longer than a queue delay) is due.
    ResumeRetry,
    /// The stage message was not acted on in time: send it again (or wait
    /// behind a backlog: that needs the queue's depth, which the sweeper has).
    Redeliver,
    /// A manual task passed its due time.
    Overdue,
    /// A manual task's next escalation step is due (the definition has one).
    Escalate,
    /// A manual task's reminder is due, or an escalation with no step left.
    Remind,
    /// Deadlines are due that nothing acts on in this status (logged).
    Unhandled(Vec<DeadlineKind>),
}

/// What the task's due deadlines trigger now. `heartbeat_tried`: a heartbeat
/// was already tried in this sweep (one failing to send is not tried again
/// until the next sweep). `manual`: the definition's manual settings; without
/// them a due escalation reads as a reminder, so a caller reads them when the
/// answer is a person's deadline (`Overdue`, `Escalate`, `Remind`) and asks
/// again with them.
pub fn next_due_step(
    task: &TaskInstance,
    now: DateTime<Utc>,
    heartbeat_tried: bool,
    manual: Option<&ManualSettings>,
) -> DueStep {
    let due: Vec<DeadlineKind> = task
        .deadlines
        .iter()
        .filter(|(kind, at)| **at <= now && !(heartbeat_tried && **kind == DeadlineKind::Heartbeat))
        .map(|(kind, _)| *kind)
        .collect();
    if due.is_empty() {
        let next = task.next_deadline().map(|(_, at)| at);
        return match task.wake_at == next {
            true => DueStep::Nothing,
            false => DueStep::WakeUp(next),
        };
    }
    let is_due = |kind| due.contains(&kind);
    if is_due(DeadlineKind::Heartbeat) {
        return DueStep::Heartbeat;
    }
    if let Some(budget) = [DeadlineKind::CloseBy, DeadlineKind::StartBy]
        .into_iter()
        .find(|kind| is_due(*kind))
    {
        return DueStep::ExceedBudget(budget);
    }
    match task.status {
        TaskStatus::Running if is_due(DeadlineKind::Lease) => DueStep::ExpireLease,
        TaskStatus::RetryWait if is_due(DeadlineKind::RetryAt) => DueStep::ResumeRetry,
        TaskStatus::Created | TaskStatus::Queued if is_due(DeadlineKind::Redeliver) => {
            DueStep::Redeliver
        }
        // A manual task's due time, escalation or reminder, in that order.
        TaskStatus::Assigned | TaskStatus::Claimed if is_due(DeadlineKind::Due) => DueStep::Overdue,
        TaskStatus::Assigned | TaskStatus::Claimed => {
            let level = task.manual.as_ref().map_or(0, |p| p.escalation_level) as usize;
            let step_left = manual.is_some_and(|m| m.escalation.get(level).is_some());
            if is_due(DeadlineKind::Escalation) && step_left {
                DueStep::Escalate
            } else {
                DueStep::Remind
            }
        }
        _ => DueStep::Unhandled(due),
    }
}

/// A write of a task's deadlines only: no transition, no history entry, no
/// event. Conditional on the task's version, as every task write is.
#[derive(Debug, Clone, PartialEq)]
pub enum DeadlineWrite {
    /// Only the wake-up (the deadline index entry) moves.
    WakeUp {
        task: TaskInstance,
        at: Option<DateTime<Utc>>,
    },
    /// The deadlines and the wake-up, as `task` holds them.
    Deadlines(TaskInstance),
}

impl DeadlineWrite {
    /// The sweeper looks at the task next at `at` (none: it leaves the index).
    pub fn wake_at(task: &TaskInstance, at: Option<DateTime<Utc>>) -> Self {
        Self::WakeUp {
            task: task.clone(),
            at,
        }
    }

    /// A heartbeat was sent (or refused for good) at `now`: the next one is
    /// due one interval on. A task no step waits on has no heartbeat at all.
    pub fn heartbeat_sent(task: &TaskInstance, now: DateTime<Utc>) -> Self {
        let mut next = task.clone();
        match &task.callback {
            Some(callback) => {
                let every = Duration::seconds(i64::from(callback.heartbeat_seconds));
                next.deadlines.insert(DeadlineKind::Heartbeat, now + every);
            }
            None => {
                next.deadlines.remove(&DeadlineKind::Heartbeat);
            }
        }
        next.schedule_wake(None);
        Self::Deadlines(next)
    }

    /// The task as it is once the write is done.
    pub fn task_after(&self) -> TaskInstance {
        match self {
            Self::WakeUp { task, at } => TaskInstance {
                wake_at: *at,
                ..task.clone()
            },
            Self::Deadlines(task) => task.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::manual::{Assignment, EscalationStep, ManualProgress};
    use crate::domain::{Assignee, AssigneeType, Callback};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn task(status: TaskStatus, deadlines: &[(DeadlineKind, i64)]) -> TaskInstance {
        let mut task: TaskInstance = serde_json::from_value(serde_json::json!({
            "taskInstanceId": "0198c7d2-6d4a-7d2e-9c1a-2b3c4d5e6f70",
            "workflowInstanceId": "wf", "stepId": "s",
            "definitionName": "d", "definitionVersion": 1,
            "status": "CREATED", "input": {},
            "attempt": 0, "version": 1,
            "createdAt": at(0), "updatedAt": at(0),
        }))
        .unwrap();
        task.status = status;
        task.deadlines = deadlines.iter().map(|(k, s)| (*k, at(*s))).collect();
        task.wake_at = task.next_deadline().map(|(_, at)| at);
        task
    }

    fn manual(steps: usize) -> ManualSettings {
        ManualSettings {
            assignment: Assignment::User { id: "ann".into() },
            due_in_seconds: None,
            due_at_path: None,
            reminders: vec![60],
            escalation: (0..steps)
                .map(|_| EscalationStep {
                    after_seconds: 60,
                    to: Assignee {
                        kind: AssigneeType::User,
                        id: "boss".into(),
                    },
                })
                .collect(),
            on_due: Default::default(),
            searchable: Default::default(),
            notify: None,
            ui_components: serde_json::Value::Null,
        }
    }

    #[test]
    fn nothing_due_moves_only_a_wake_up_that_is_not_at_the_earliest_deadline() {
        let mut early = task(TaskStatus::Running, &[(DeadlineKind::Lease, 100)]);
        assert_eq!(next_due_step(&early, at(50), false, None), DueStep::Nothing);
        early.wake_at = Some(at(10));
        assert_eq!(
            next_due_step(&early, at(50), false, None),
            DueStep::WakeUp(Some(at(100)))
        );
        let moved = DeadlineWrite::wake_at(&early, Some(at(100))).task_after();
        assert_eq!(moved.wake_at, Some(at(100)));
    }

    #[test]
    fn each_due_deadline_triggers_its_step_in_its_status() {
        let cases = [
            (
                TaskStatus::Running,
                DeadlineKind::Lease,
                DueStep::ExpireLease,
            ),
            (
                TaskStatus::RetryWait,
                DeadlineKind::RetryAt,
                DueStep::ResumeRetry,
            ),
            (
                TaskStatus::Created,
                DeadlineKind::Redeliver,
                DueStep::Redeliver,
            ),
            (
                TaskStatus::Queued,
                DeadlineKind::Redeliver,
                DueStep::Redeliver,
            ),
            (TaskStatus::Assigned, DeadlineKind::Due, DueStep::Overdue),
            (TaskStatus::Claimed, DeadlineKind::Reminder, DueStep::Remind),
            (
                TaskStatus::Assigned,
                DeadlineKind::Escalation,
                DueStep::Escalate,
            ),
            (
                TaskStatus::Running,
                DeadlineKind::Redeliver,
                DueStep::Unhandled(vec![DeadlineKind::Redeliver]),
            ),
        ];
        let settings = manual(1);
        for (status, kind, step) in cases {
            let t = task(status, &[(kind, 10)]);
            assert_eq!(
                next_due_step(&t, at(10), false, Some(&settings)),
                step,
                "{status} {kind:?}"
            );
        }
    }

    #[test]
    fn heartbeats_then_budgets_come_before_the_status_own_deadlines() {
        let t = task(
            TaskStatus::Running,
            &[
                (DeadlineKind::Lease, 5),
                (DeadlineKind::CloseBy, 8),
                (DeadlineKind::StartBy, 7),
                (DeadlineKind::Heartbeat, 9),
            ],
        );
        assert_eq!(next_due_step(&t, at(10), false, None), DueStep::Heartbeat);
        // A heartbeat tried in this sweep is not tried again.
        assert_eq!(
            next_due_step(&t, at(10), true, None),
            DueStep::ExceedBudget(DeadlineKind::CloseBy)
        );
        let lease_only = task(
            TaskStatus::Running,
            &[(DeadlineKind::Lease, 5), (DeadlineKind::Heartbeat, 9)],
        );
        assert_eq!(
            next_due_step(&lease_only, at(10), true, None),
            DueStep::ExpireLease
        );
    }

    #[test]
    fn a_manual_task_is_overdue_before_it_escalates_and_escalates_before_it_is_reminded() {
        let all = [
            (DeadlineKind::Reminder, 1),
            (DeadlineKind::Escalation, 2),
            (DeadlineKind::Due, 3),
        ];
        let one_step = manual(1);
        let t = task(TaskStatus::Assigned, &all);
        assert_eq!(
            next_due_step(&t, at(10), false, Some(&one_step)),
            DueStep::Overdue
        );
        let t = task(TaskStatus::Assigned, &all[..2]);
        assert_eq!(
            next_due_step(&t, at(10), false, Some(&one_step)),
            DueStep::Escalate
        );
        // Past its last escalation step, an escalation deadline only reminds.
        let mut escalated = t.clone();
        escalated.manual = Some(ManualProgress {
            assigned_at: at(0),
            last_assigned_at: at(0),
            reminders_sent: 0,
            escalation_level: 1,
            pool: None,
        });
        assert_eq!(
            next_due_step(&escalated, at(10), false, Some(&one_step)),
            DueStep::Remind
        );
    }

    #[test]
    fn a_heartbeat_sent_moves_the_next_one_an_interval_on_or_drops_it_without_a_step() {
        let mut t = task(
            TaskStatus::Assigned,
            &[(DeadlineKind::Heartbeat, 5), (DeadlineKind::Due, 500)],
        );
        let dropped = DeadlineWrite::heartbeat_sent(&t, at(10)).task_after();
        assert!(!dropped.deadlines.contains_key(&DeadlineKind::Heartbeat));
        assert_eq!(dropped.wake_at, Some(at(500)));
        t.callback = Some(Callback {
            task_token: "t".into(),
            heartbeat_seconds: 60,
            envelope: false,
        });
        let moved = DeadlineWrite::heartbeat_sent(&t, at(10)).task_after();
        assert_eq!(moved.deadlines[&DeadlineKind::Heartbeat], at(70));
        assert_eq!(moved.wake_at, Some(at(70)));
        assert_eq!(moved.version, t.version, "no transition");
    }
}
