//! Runs bulk operations in the background, from the sweeper: a batch at a
//! time, paced to the operation's rate, within a time budget (no function
//! runs past its timeout), one runner per operation (a lease on its record).
//!
//! Each batch is recorded as *selected* (each task with its version) and
//! the operation's cursor moved past it in one save before any task is
//! acted on; then each task is acted on with a conditional write and its
//! outcome recorded. A runner that dies in between leaves `pending`
//! outcomes: the next run settles each from the task itself (still as
//! selected: act; moved on by this operation's action: acted; else
//! skipped), so every task is acted on once. The selection ends when the
//! operation started, so a task that fails again after being retried is
//! not selected again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use tracing::{error, info, warn};

use super::touch;
use crate::{ApplyError, SendBuffer, TaskEngine};
use tel_core::domain::operation::{
    BulkAction, Lease, OPERATION_BATCH, Operation, OperationState, PendingTask, TaskOutcome,
    TaskOutcomeKind,
};
use tel_core::domain::{Action, Permission, TaskInstance, TaskInstanceId};
use tel_core::ports::{Saved, Selected, StoreError};

/// How long a lease outlives its runner's budget: a runner that died holds
/// its operation no longer than this past its budget.
const LEASE_SLACK: chrono::Duration = chrono::Duration::seconds(30);

/// Why a selected task was skipped when someone else moved it first.
const CHANGED: &str = "changed before it was acted on";

/// Tasks of a batch read and acted on at once.
const CONCURRENCY: usize = 5;

/// Index entries one Query of the selection reads (then worked through in
/// batches of `OPERATION_BATCH`).
const SELECT_PAGE: usize = 250;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub operations: usize,
    pub acted: u64,
    pub skipped: u64,
    pub failed: u64,
}

/// Why a run stopped before its operation ended.
enum Halt {
    /// Another runner holds it now, or it was stopped: nothing more to do here.
    Lost,
    /// The store failed for now: the next run goes on from the last save.
    Store(StoreError),
}

impl From<StoreError> for Halt {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

pub struct OperationRunner {
    engine: Arc<TaskEngine>,
    /// Names this runner in the leases it takes.
    owner: String,
}

impl OperationRunner {
    pub fn new(engine: Arc<TaskEngine>) -> Self {
        Self {
            engine,
            owner: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Works on every running operation no other runner holds, oldest
    /// first, until `budget` is spent.
    pub async fn run_due(&self, budget: Duration) -> RunReport {
        let until = Instant::now() + budget;
        let mut report = RunReport::default();
        let mut running = match self.engine.operations().running_operations().await {
            Ok(running) => running,
            Err(e) => {
                warn!(error = %e, "running operations not read");
                return report;
            }
        };
        running.sort_by(|a, b| a.operation_id.cmp(&b.operation_id));
        let now = self.engine.now();
        let free: Vec<Operation> = running.into_iter().filter(|o| o.is_free(now)).collect();
        let count = free.len();
        for (i, operation) in free.into_iter().enumerate() {
            // An equal share of what is left for each operation still to
            // come: a slow one (a low rate, a large selection) cannot hold
            // the others back.
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let slice = left / (count - i) as u32;
            report.operations += 1;
            self.run(operation, Instant::now() + slice, &mut report)
                .await;
        }
        if report != RunReport::default() {
            info!(report = ?report, "operations worked on");
        }
        report
    }

    /// Works on one operation until it ends or `until` comes. A store error
    /// that will not clear fails the operation (with why); one that may
    /// hands it back for the next sweep.
    async fn run(&self, operation: Operation, until: Instant, report: &mut RunReport) {
        let budget = until.saturating_duration_since(Instant::now());
        let lease = Lease {
            owner: self.owner.clone(),
            until: self.engine.now()
                + chrono::Duration::from_std(budget).unwrap_or_default()
                + LEASE_SLACK,
        };
        let mut operation = operation;
        // Taken only if nobody saved it since it was read.
        let expected = operation.version;
        operation.lease = Some(lease);
        touch(&mut operation, self.engine.now());
        match self
            .engine
            .operations()
            .save_operation(&operation, expected)
            .await
        {
            Ok(Saved::Saved) => {}
            Ok(Saved::Superseded) => return,
            Err(e) => {
                warn!(operation_id = %operation.operation_id, error = %e, "operation not taken: the store failed");
                return;
            }
        }
        let id = operation.operation_id.clone();
        let outcome = match self.work(&mut operation, until, report).await {
            Err(Halt::Store(e)) if !e.is_transient() => {
                error!(operation_id = %id, error = %e, "operation failed: the store refused it");
                let problem = format!("the store refused the operation: {e}");
                self.finish(&mut operation, OperationState::Failed, Some(problem))
                    .await
            }
            Err(Halt::Store(e)) => {
                warn!(operation_id = %id, error = %e, "operation paused: the store failed for now");
                self.save(&mut operation, |o| o.lease = None)
                    .await
                    .map(|_| ())
            }
            other => other,
        };
        if let Err(Halt::Store(e)) = outcome {
            warn!(operation_id = %id, error = %e, "operation left to its lease");
        }
    }

    async fn work(
        &self,
        operation: &mut Operation,
        until: Instant,
        report: &mut RunReport,
    ) -> Result<(), Halt> {
        let starter = operation.started_by.identity();
        let rules = self
            .engine
            .definitions()
            .latest_access(&operation.selection.definition)
            .await?;
        if !rules.allows(&starter, Permission::Manage) {
            let problem = format!(
                "{} no longer manages the tasks of {}",
                starter.user, operation.selection.definition
            );
            return self
                .finish(operation, OperationState::Failed, Some(problem))
                .await;
        }
        if !operation.pending.is_empty() {
            self.settle_pending(operation, report).await?;
        }
        while !operation.selected_all {
            if Instant::now() >= until {
                // Handed back at once: the next sweep goes on without waiting for the lease.
                return self.save(operation, |o| o.lease = None).await.map(|_| ());
            }
            self.step(operation, until, report).await?;
            if !operation.is_running() {
                return Ok(());
            }
        }
        self.finish(operation, OperationState::Done, None).await
    }

    /// Reads one page of the selection and works through it a batch at a
    /// time (each saved with the cursor after its last task).
    async fn step(
        &self,
        operation: &mut Operation,
        until: Instant,
        report: &mut RunReport,
    ) -> Result<(), Halt> {
        let page = self
            .engine
            .operations()
            .select(
                &operation.selection,
                operation.cursor.as_deref(),
                SELECT_PAGE,
            )
            .await?;
        if page.found.is_empty() {
            let next = page.next.clone();
            self.save(operation, |o| {
                o.cursor = next.clone();
                o.selected_all = next.is_none();
            })
            .await?;
            return Ok(());
        }
        let batches: Vec<&[Selected]> = page.found.chunks(OPERATION_BATCH).collect();
        let last = batches.len() - 1;
        for (i, batch) in batches.into_iter().enumerate() {
            let after = if i == last {
                page.next.clone()
            } else {
                batch.last().map(|s| s.after.clone())
            };
            self.batch(operation, batch, after, until, report).await?;
            if !operation.is_running() || (i < last && Instant::now() >= until) {
                break;
            }
        }
        Ok(())
    }

    /// Records a batch as selected, moves the cursor to `after`, acts on
    /// each task and records what came of it, at the operation's pace.
    async fn batch(
        &self,
        operation: &mut Operation,
        batch: &[Selected],
        after: Option<String>,
        until: Instant,
        report: &mut RunReport,
    ) -> Result<(), Halt> {
        let started = Instant::now();
        // The index is eventually consistent: each task is read afresh.
        let ids: Vec<TaskInstanceId> = batch.iter().map(|s| s.id).collect();
        let store = self.engine.tasks().clone();
        let read: Vec<Option<TaskInstance>> = futures::stream::iter(ids)
            .map(|id| {
                let store = store.clone();
                async move { store.get(id).await }
            })
            .buffered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let tasks: Vec<TaskInstance> = read
            .into_iter()
            .flatten()
            .filter(|task| operation.selection.matches(task))
            .collect();
        let now = self.engine.now();
        let selected: Vec<TaskOutcome> = tasks
            .iter()
            .map(|task| TaskOutcome::selected(task.task_instance_id, task.version, now))
            .collect();
        self.engine
            .operations()
            .record_outcomes(&operation.operation_id, &selected)
            .await?;
        let found = selected.len() as u64;
        let pending: Vec<PendingTask> = tasks
            .iter()
            .map(|task| PendingTask {
                task_instance_id: task.task_instance_id,
                task_version: task.version,
            })
            .collect();
        let saved = self
            .save(operation, |o| {
                o.cursor = after.clone();
                o.selected_all = after.is_none();
                o.pending.extend(pending.iter().copied());
                o.progress.selected += found;
            })
            .await?;
        if !saved.is_running() {
            // Stopped meanwhile: what was selected is left as it is.
            let skipped: Vec<TaskOutcome> = selected
                .iter()
                .map(|o| {
                    o.settled(
                        TaskOutcomeKind::Skipped,
                        Some("the operation was stopped"),
                        o.at,
                    )
                })
                .collect();
            return self.record(operation, &skipped, report).await;
        }
        // The batch's stage messages go out together (one SendMessageBatch
        // per 10, not one send per task). One not sent now leaves its task
        // waiting with a redelivery time: the sweeper sends it then.
        let sends = Arc::new(SendBuffer::default());
        let acted: Vec<Result<TaskOutcome, Halt>> = futures::stream::iter(tasks)
            .map(|task| {
                let record = task.task_instance_id.to_string();
                sends.hold(record, self.act(operation, task))
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let unsent = sends.flush(self.engine.queues().as_ref()).await;
        if !unsent.is_empty() {
            warn!(operation_id = %operation.operation_id, unsent = unsent.len(), "stage messages not sent now; the sweeper sends them when they are due");
        }
        let outcomes: Vec<TaskOutcome> = acted.into_iter().collect::<Result<_, _>>()?;
        self.record(operation, &outcomes, report).await?;
        // The pace: this batch takes at least found / rate seconds.
        let least = Duration::from_secs_f64(found as f64 / operation.rate_per_second as f64);
        let wait = least
            .saturating_sub(started.elapsed())
            .min(until.saturating_duration_since(Instant::now()));
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Acts on one task as selected. A failure that may clear is returned:
    /// the task stays pending and the next run settles it.
    async fn act(&self, operation: &Operation, task: TaskInstance) -> Result<TaskOutcome, Halt> {
        let by = Some(operation.started_by.user.clone());
        let action = match operation.action {
            BulkAction::Retry => Action::Rerun {
                by,
                redeliver_at: self.engine.redeliver_at(),
            },
            BulkAction::Cancel => Action::Cancel {
                reason: operation.reason.clone().unwrap_or_else(|| {
                    format!("cancelled by operation {}", operation.operation_id)
                }),
                by,
            },
        };
        let (outcome, detail) = match self.engine.apply(&task, action).await {
            Ok(_) => (acted(operation.action), None),
            // A write retried after a timeout may find its own first try done.
            Err(e) if e.is_superseded() => {
                match self.engine.tasks().get(task.task_instance_id).await? {
                    Some(now) if acted_by(operation, &now, task.version) => {
                        (acted(operation.action), None)
                    }
                    _ => (TaskOutcomeKind::Skipped, Some(CHANGED.to_owned())),
                }
            }
            Err(e) => match e.task_error() {
                Some(error) => (TaskOutcomeKind::Failed, Some(error.code)),
                None => return Err(halt(e)),
            },
        };
        Ok(TaskOutcome {
            task_instance_id: task.task_instance_id,
            outcome,
            task_version: task.version,
            detail,
            at: self.engine.now(),
        })
    }

    /// Settles the tasks a dead runner left selected (the operation's
    /// `pending`, at most a batch).
    async fn settle_pending(
        &self,
        operation: &mut Operation,
        report: &mut RunReport,
    ) -> Result<(), Halt> {
        let now = self.engine.now();
        let mut settled = Vec::with_capacity(operation.pending.len());
        for pending in operation.pending.clone() {
            let selected =
                TaskOutcome::selected(pending.task_instance_id, pending.task_version, now);
            settled.push(self.settle(operation, selected).await?);
        }
        self.record(operation, &settled, report).await
    }

    async fn settle(
        &self,
        operation: &Operation,
        selected: TaskOutcome,
    ) -> Result<TaskOutcome, Halt> {
        let now = self.engine.now();
        let Some(task) = self.engine.tasks().get(selected.task_instance_id).await? else {
            return Ok(selected.settled(TaskOutcomeKind::Skipped, Some("the task is gone"), now));
        };
        if task.version == selected.task_version && operation.selection.matches(&task) {
            return self.act(operation, task).await;
        }
        Ok(if acted_by(operation, &task, selected.task_version) {
            selected.settled(acted(operation.action), None, now)
        } else {
            selected.settled(TaskOutcomeKind::Skipped, Some(CHANGED), now)
        })
    }

    /// Records outcomes and counts them in the operation.
    async fn record(
        &self,
        operation: &mut Operation,
        outcomes: &[TaskOutcome],
        report: &mut RunReport,
    ) -> Result<(), Halt> {
        if outcomes.is_empty() {
            return Ok(());
        }
        self.engine
            .operations()
            .record_outcomes(&operation.operation_id, outcomes)
            .await?;
        let count = |kind: fn(&TaskOutcomeKind) -> bool| {
            outcomes.iter().filter(|o| kind(&o.outcome)).count() as u64
        };
        let acted = count(|k| matches!(k, TaskOutcomeKind::Retried | TaskOutcomeKind::Cancelled));
        let skipped = count(|k| *k == TaskOutcomeKind::Skipped);
        let failed = count(|k| *k == TaskOutcomeKind::Failed);
        report.acted += acted;
        report.skipped += skipped;
        report.failed += failed;
        let settled: Vec<TaskInstanceId> = outcomes.iter().map(|o| o.task_instance_id).collect();
        self.save(operation, |o| {
            o.progress.acted += acted;
            o.progress.skipped += skipped;
            o.progress.failed += failed;
            o.pending.retain(|p| !settled.contains(&p.task_instance_id));
        })
        .await
        .map(|_| ())
    }

    async fn finish(
        &self,
        operation: &mut Operation,
        state: OperationState,
        problem: Option<String>,
    ) -> Result<(), Halt> {
        let now = self.engine.now();
        self.save(operation, |o| {
            if o.is_running() {
                o.state = state;
                o.problem = problem.clone();
                o.finished_at = Some(now);
            }
            o.lease = None;
        })
        .await?;
        info!(operation_id = %operation.operation_id, state = ?operation.state, progress = ?operation.progress, "operation ended");
        Ok(())
    }

    /// Saves `change` to the operation. When someone saved it first (a
    /// person stopping it), the change is made again to what they saved,
    /// as long as this runner still holds the lease. Returns the operation
    /// as saved.
    async fn save(
        &self,
        operation: &mut Operation,
        change: impl Fn(&mut Operation),
    ) -> Result<Operation, Halt> {
        for _ in 0..5 {
            let expected = operation.version;
            let mut next = operation.clone();
            change(&mut next);
            touch(&mut next, self.engine.now());
            match self
                .engine
                .operations()
                .save_operation(&next, expected)
                .await?
            {
                Saved::Saved => {
                    *operation = next;
                    return Ok(operation.clone());
                }
                Saved::Superseded => {
                    let stored = self
                        .engine
                        .operations()
                        .operation(&operation.operation_id)
                        .await?
                        .ok_or(Halt::Lost)?;
                    if stored.lease.as_ref().map(|l| l.owner.as_str()) != Some(self.owner.as_str())
                    {
                        return Err(Halt::Lost);
                    }
                    *operation = stored;
                }
            }
        }
        Err(Halt::Store(StoreError::Unavailable(format!(
            "operation {} kept changing",
            operation.operation_id
        ))))
    }
}

/// Whether `task` moved on from `version` by this operation's own action
/// (its next history entry, by the operation's starter).
fn acted_by(operation: &Operation, task: &TaskInstance, version: u64) -> bool {
    task.history.iter().any(|entry| {
        entry.version == version + 1
            && entry.action == operation.action.history_action()
            && entry.actor.as_deref() == Some(operation.started_by.user.as_str())
    })
}

fn acted(action: BulkAction) -> TaskOutcomeKind {
    match action {
        BulkAction::Retry => TaskOutcomeKind::Retried,
        BulkAction::Cancel => TaskOutcomeKind::Cancelled,
    }
}

/// A failure acting on a task that may clear: the run pauses.
fn halt(e: ApplyError) -> Halt {
    match e {
        ApplyError::Store(e) => Halt::Store(e),
        other => Halt::Store(StoreError::Unavailable(other.to_string())),
    }
}
