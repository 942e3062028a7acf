//! timeout-sweeper (on a schedule): reads only the sparse deadline index, so
//! a sweep costs in proportion to what is due, not to what is stored. It
//! times out attempts whose lease ran out, resumes long retry waits, re-sends
//! stage messages that may have been lost, sends manual tasks' reminders,
//! escalates them and acts on their due time, and republishes events whose
//! publisher died. Every action is a conditional write, so sweeps may overlap.

use std::sync::Arc;

use serde::Serialize;
use tracing::{info, warn};

use super::attempts::retry_or_fail;
use super::executor::slot_pool;
use super::services::{ApplyError, Services};
use crate::domain::manual::OnDue;
use crate::domain::task_error::TIMEOUT;
use crate::domain::{
    Action, DeadlineKind, Stage, TaskError, TaskInstance, TaskInstanceId, TaskStatus, TaskType,
};
use crate::metrics::Unit;
use crate::ports::{BusEvent, DueItem};
use crate::runners::RunError;

/// Actions on one task in one sweep (each moves at least one deadline on).
const MAX_ACTIONS_PER_TASK: usize = 8;

/// How long a slot holder may be between taking its slot and starting.
const SLOT_GRACE: chrono::Duration = chrono::Duration::seconds(60);

/// Due entries taken from each shard per sweep; the rest wait for the next one.
pub const DEFAULT_BATCH_PER_SHARD: i32 = 100;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Index entries read (the cost of the sweep).
    pub due_read: usize,
    pub leases_expired: usize,
    pub retries_resumed: usize,
    pub redelivered: usize,
    pub events_republished: usize,
    pub reminders: usize,
    pub escalations: usize,
    /// Manual tasks past their due time.
    pub overdue: usize,
    /// Tasks failed for exceeding scheduleToStart or scheduleToClose.
    pub budgets_exceeded: usize,
    /// Concurrency slots freed because their holder was no longer running.
    pub slots_repaired: usize,
    /// Entries another sweeper or handler got to first.
    pub superseded: usize,
    pub errors: usize,
}

pub struct Sweeper {
    services: Arc<Services>,
    batch_per_shard: i32,
}

impl Sweeper {
    pub fn new(services: Arc<Services>) -> Self {
        Self {
            services,
            batch_per_shard: DEFAULT_BATCH_PER_SHARD,
        }
    }

    pub async fn sweep(&self) -> SweepReport {
        let mut report = SweepReport::default();
        let now = self.services.now();
        for shard in 0..self.services.settings.deadline_shards {
            let due = match self
                .services
                .tasks
                .due(shard, now, self.batch_per_shard)
                .await
            {
                Ok(due) => due,
                Err(e) => {
                    warn!(shard, error = %e, "deadline shard not read");
                    report.errors += 1;
                    continue;
                }
            };
            report.due_read += due.len();
            for item in due {
                self.handle(item, &mut report).await;
            }
        }
        self.repair_slots(&mut report).await;
        self.sample_queues().await;
        if report != SweepReport::default() {
            info!(report = ?report, "sweep done");
        }
        report
    }

    async fn handle(&self, item: DueItem, report: &mut SweepReport) {
        let outcome = match item {
            DueItem::Outbox {
                task_instance_id,
                event_id,
                ..
            } => self.republish(task_instance_id, &event_id, report).await,
            DueItem::Task {
                task_instance_id, ..
            } => self.act(task_instance_id, report).await,
        };
        match outcome {
            Ok(()) => {}
            Err(e) if e.is_superseded() => report.superseded += 1,
            Err(e) => {
                warn!(error = %e, "due entry not handled; the next sweep retries it");
                report.errors += 1;
            }
        }
    }

    async fn republish(
        &self,
        id: TaskInstanceId,
        event_id: &str,
        report: &mut SweepReport,
    ) -> Result<(), ApplyError> {
        let s = &self.services;
        let Some(event) = s.tasks.outbox_event(id, event_id).await? else {
            return Ok(());
        };
        s.publisher
            .publish(&[BusEvent::from(&event)])
            .await
            .map_err(|e| crate::ports::StoreError::Unavailable(e.to_string()))?;
        s.tasks.clear_outbox(id, &[event.event_id]).await?;
        report.events_republished += 1;
        Ok(())
    }

    async fn act(&self, id: TaskInstanceId, report: &mut SweepReport) -> Result<(), ApplyError> {
        let s = &self.services;
        let Some(mut task) = s.tasks.get(id).await? else {
            return Ok(());
        };
        // One task may have several deadlines due at once (a reminder and an
        // escalation): act on each, earliest first, each a conditional write.
        for _ in 0..MAX_ACTIONS_PER_TASK {
            let now = s.now();
            let due: Vec<DeadlineKind> = task
                .deadlines
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(k, _)| *k)
                .collect();
            if due.is_empty() {
                return Ok(());
            }
            if let Some(budget) = [DeadlineKind::CloseBy, DeadlineKind::StartBy]
                .into_iter()
                .find(|k| due.contains(k))
            {
                task = self.exceed_budget(&task, budget).await?;
                report.budgets_exceeded += 1;
                continue;
            }
            task = match task.status {
                TaskStatus::Running if due.contains(&DeadlineKind::Lease) => {
                    let expired = self.expire_lease(&task).await?;
                    report.leases_expired += 1;
                    expired
                }
                TaskStatus::RetryWait if due.contains(&DeadlineKind::RetryAt) => {
                    let queued = s
                        .apply(
                            &task,
                            Action::ResumeRetry {
                                redeliver_at: s.redeliver_at(),
                            },
                        )
                        .await?;
                    s.send_stage(&queued, Stage::Execute, 0).await?;
                    report.retries_resumed += 1;
                    queued
                }
                status @ (TaskStatus::Created | TaskStatus::Queued | TaskStatus::OutputPending)
                    if due.contains(&DeadlineKind::Redeliver) =>
                {
                    let stage = match (status, task.task_type) {
                        (TaskStatus::Created, _) => Stage::Input,
                        (TaskStatus::OutputPending, _) => Stage::Output,
                        (_, Some(TaskType::Manual)) => Stage::Assign,
                        _ => Stage::Execute,
                    };
                    // Move the deadline first: of two overlapping sweeps only one sends.
                    let moved = s
                        .apply(
                            &task,
                            Action::Redeliver {
                                redeliver_at: s.redeliver_at(),
                            },
                        )
                        .await?;
                    s.send_stage(&moved, stage, 0).await?;
                    info!(task_instance_id = %id, ?stage, "stage message re-sent");
                    report.redelivered += 1;
                    moved
                }
                TaskStatus::Assigned | TaskStatus::Claimed => {
                    self.manual_deadline(&task, &due, report).await?
                }
                status => {
                    warn!(task_instance_id = %id, ?due, %status, "deadline this sweeper does not act on");
                    return Ok(());
                }
            };
        }
        Ok(())
    }

    /// Queue depths, as metrics, once per sweep.
    async fn sample_queues(&self) {
        let s = &self.services;
        let urls = &s.queue_urls;
        let mut queues = vec![
            ("requests", &urls.requests),
            ("validate", &urls.validate),
            ("execute", &urls.execute),
            ("manual", &urls.manual),
        ];
        queues.extend(
            urls.validate_priority
                .as_ref()
                .map(|u| ("validate-priority", u)),
        );
        queues.extend(
            urls.execute_priority
                .as_ref()
                .map(|u| ("execute-priority", u)),
        );
        for (name, url) in queues {
            match s.queues.depth(url).await {
                Ok(depth) => s.metrics.put(
                    &[("Queue", name)],
                    &[
                        ("QueueDepth", depth.waiting as f64, Unit::Count),
                        ("QueueInFlight", depth.in_flight as f64, Unit::Count),
                    ],
                ),
                Err(e) => warn!(queue = name, error = %e, "queue depth not sampled"),
            }
        }
    }

    /// The task ran out of its whole-task budget: it fails with `TIMEOUT`,
    /// whatever it was doing, and a running attempt's slot is freed.
    async fn exceed_budget(
        &self,
        task: &TaskInstance,
        budget: DeadlineKind,
    ) -> Result<TaskInstance, ApplyError> {
        let s = &self.services;
        let message = match budget {
            DeadlineKind::StartBy => "the task did not start within its scheduleToStartSeconds",
            _ => "the task did not finish within its scheduleToCloseSeconds",
        };
        let error =
            TaskError::new(TIMEOUT, message).with_details(serde_json::json!({ "budget": budget }));
        let failed = s.apply(task, Action::Fail { error }).await?;
        if task.status == TaskStatus::Running {
            let _ = s
                .slots
                .release(&slot_pool(&task.definition_name), task.task_instance_id)
                .await;
        }
        info!(task_instance_id = %task.task_instance_id, ?budget, "task budget exceeded");
        Ok(failed)
    }

    /// Frees slots whose holder is not running an attempt: an executor that
    /// died before releasing, a start that never happened. A holder gets a
    /// grace period first, between taking its slot and starting.
    async fn repair_slots(&self, report: &mut SweepReport) {
        let s = &self.services;
        let pools = match s.slots.pools().await {
            Ok(pools) => pools,
            Err(e) => {
                warn!(error = %e, "slots not checked");
                report.errors += 1;
                return;
            }
        };
        let settled_before = s.now() - SLOT_GRACE;
        for (pool, holders) in pools {
            for holder in holders {
                let leaked = match s.tasks.get(holder).await {
                    Ok(None) => true,
                    Ok(Some(task)) => {
                        task.status != TaskStatus::Running && task.updated_at < settled_before
                    }
                    Err(_) => false,
                };
                if leaked && s.slots.release(&pool, holder).await.is_ok() {
                    info!(pool, task_instance_id = %holder, "leaked concurrency slot freed");
                    report.slots_repaired += 1;
                }
            }
        }
    }

    /// A manual task's due time, escalation or reminder, in that order of precedence.
    async fn manual_deadline(
        &self,
        task: &TaskInstance,
        due: &[DeadlineKind],
        report: &mut SweepReport,
    ) -> Result<TaskInstance, ApplyError> {
        let s = &self.services;
        let settings = s
            .definitions
            .exact(&task.definition_name, task.definition_version)
            .await?
            .and_then(|loaded| loaded.definition.manual.clone())
            .ok_or_else(|| {
                crate::ports::StoreError::Corrupt(format!(
                    "{} has no manual settings",
                    task.definition_ref()
                ))
            })?;
        if due.contains(&DeadlineKind::Due) {
            let due_at = task.due_at.map(|d| d.to_rfc3339()).unwrap_or_default();
            let error = TaskError::new(
                TIMEOUT,
                format!("the task was not completed by its due time {due_at}"),
            );
            let default_output = match &settings.on_due {
                OnDue::Fail => None,
                OnDue::Complete { output } => Some(output.clone()),
            };
            let ended = s
                .apply(
                    task,
                    Action::TimeOut {
                        error,
                        default_output,
                    },
                )
                .await?;
            report.overdue += 1;
            return Ok(ended);
        }
        if due.contains(&DeadlineKind::Escalation) {
            let level = task.manual.as_ref().map_or(0, |p| p.escalation_level) as usize;
            if let Some(step) = settings.escalation.get(level) {
                let action = Action::Assign {
                    assignee: step.to.clone(),
                    due_at: None,
                    schedule: Some(settings.clone()),
                    escalated: true,
                    by: None,
                };
                let escalated = s.apply(task, action).await?;
                report.escalations += 1;
                return Ok(escalated);
            }
        }
        let reminded = s.apply(task, Action::Remind { schedule: settings }).await?;
        report.reminders += 1;
        Ok(reminded)
    }

    async fn expire_lease(&self, task: &TaskInstance) -> Result<TaskInstance, ApplyError> {
        let s = &self.services;
        let error = TaskError::new(
            TIMEOUT,
            format!(
                "attempt {} did not finish within its lease: the executor stopped or hung",
                task.attempt
            ),
        );
        let policy = match s
            .definitions
            .exact(&task.definition_name, task.definition_version)
            .await?
        {
            Some(loaded) => loaded.definition.retry.clone(),
            None => crate::domain::RetryPolicy {
                max_attempts: 1,
                ..Default::default()
            },
        };
        info!(task_instance_id = %task.task_instance_id, attempt = task.attempt, "lease expired");
        let after = retry_or_fail(s, task, &policy, RunError::retryable(error)).await?;
        // The dead attempt's concurrency slot (if its definition has a limit) is free again.
        if let Err(e) = s
            .slots
            .release(&slot_pool(&task.definition_name), task.task_instance_id)
            .await
        {
            warn!(error = %e, "slot not released; the next sweep repairs it");
        }
        Ok(after)
    }
}
