//! timeout-sweeper (on a schedule): reads only the sparse deadline index, so
//! a sweep costs in proportion to what is due, not to what is stored. It
//! times out attempts whose lease ran out, resumes long retry waits, re-sends
//! stage messages that were not acted on in time, sends manual tasks'
//! reminders, escalates them and acts on their due time. A task woken before
//! any of its deadlines (its wake-up is kept early to spare index writes) only
//! has its wake-up moved. Every action is a conditional write, so sweeps may
//! overlap.

use std::sync::Arc;

use serde::Serialize;
use tracing::{info, warn};

use std::collections::HashMap;

use super::executor::slot_pool;
use crate::attempts::retry_or_fail;
use crate::metrics::Unit;
use crate::operations::{OperationRunner, RunReport};
use crate::{ApplyError, TaskEngine};
use tel_core::domain::figures::{Depth, DepthSample, minute_of};
use tel_core::domain::manual::{ManualSettings, OnDue};
use tel_core::domain::task_error::TIMEOUT;
use tel_core::domain::{
    Action, DeadlineKind, DeadlineWrite, DueStep, Stage, TaskError, TaskInstance, TaskInstanceId,
    TaskStatus, next_due_step,
};
use tel_core::ports::runner::RunError;
use tel_core::ports::{CallbackError, ErrorClass, QueueDepth};

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
    /// Stage messages not re-sent yet because their queue still holds messages.
    pub redelivery_deferred: usize,
    /// Tasks woken before any deadline of theirs: only the wake-up moved.
    pub rescheduled: usize,
    pub reminders: usize,
    pub escalations: usize,
    /// Manual tasks past their due time.
    pub overdue: usize,
    /// Tasks failed for exceeding scheduleToStart or scheduleToClose.
    pub budgets_exceeded: usize,
    /// Concurrency slots freed because their holder was no longer running.
    pub slots_repaired: usize,
    /// Heartbeats sent to Step Functions steps waiting on unfinished tasks.
    pub heartbeats: usize,
    /// Tasks cancelled because the step waiting on them was gone (its
    /// execution stopped or timed out).
    pub steps_gone: usize,
    /// Bulk operations worked on after the deadlines.
    pub operations: RunReport,
    /// Entries another sweeper or handler got to first.
    pub superseded: usize,
    pub errors: usize,
}

pub struct Sweeper {
    engine: Arc<TaskEngine>,
    batch_per_shard: i32,
    operations: OperationRunner,
}

/// Queue depths read at the start of a sweep, by queue URL.
type Depths = HashMap<String, QueueDepth>;

impl Sweeper {
    pub fn new(engine: Arc<TaskEngine>) -> Self {
        Self {
            operations: OperationRunner::new(engine.clone()),
            engine,
            batch_per_shard: DEFAULT_BATCH_PER_SHARD,
        }
    }

    pub async fn sweep(&self) -> SweepReport {
        let started = std::time::Instant::now();
        let mut report = SweepReport::default();
        let depths = self.sample_queues().await;
        let now = self.engine.now();
        for shard in 0..self.engine.settings().deadline_shards {
            let due = match self
                .engine
                .tasks()
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
                let outcome = self.act(item.task_instance_id, &depths, &mut report).await;
                self.count(outcome, &mut report);
            }
        }
        self.repair_slots(&mut report).await;
        // Deadlines first: bulk operations take what is left of the budget.
        // What is left of it: a sweep slow with deadlines leaves less, so the
        // function still ends within its timeout.
        let budget = self
            .engine
            .settings()
            .operation_budget
            .saturating_sub(started.elapsed());
        if !budget.is_zero() {
            report.operations = self.operations.run_due(budget).await;
        }
        if report != SweepReport::default() {
            info!(report = ?report, "sweep done");
        }
        report
    }

    fn count(&self, outcome: Result<(), ApplyError>, report: &mut SweepReport) {
        match outcome {
            Ok(()) => {}
            Err(e) if e.is_superseded() => report.superseded += 1,
            Err(e) => {
                warn!(error = %e, "due entry not handled; the next sweep retries it");
                report.errors += 1;
            }
        }
    }

    /// Acts on one woken task: `next_due_step` (tel-core) says what its due
    /// deadlines trigger; each step is applied through the engine (a
    /// conditional write) and the task as written is asked about again.
    async fn act(
        &self,
        id: TaskInstanceId,
        depths: &Depths,
        report: &mut SweepReport,
    ) -> Result<(), ApplyError> {
        let s = &self.engine;
        let Some(mut task) = s.tasks().get(id).await? else {
            return Ok(());
        };
        let mut heartbeat_tried = false;
        for _ in 0..MAX_ACTIONS_PER_TASK {
            let now = s.now();
            let mut step = next_due_step(&task, now, heartbeat_tried, None);
            // The definition's manual settings are read only when a person's
            // deadline is due: a heartbeat or a budget never waits on them.
            let mut manual = None;
            if matches!(step, DueStep::Overdue | DueStep::Escalate | DueStep::Remind) {
                manual = self.manual_settings(&task).await?;
                step = next_due_step(&task, now, heartbeat_tried, manual.as_ref());
            }
            task = match step {
                DueStep::Nothing => return Ok(()),
                DueStep::WakeUp(at) => {
                    s.write_deadlines(DeadlineWrite::wake_at(&task, at)).await?;
                    report.rescheduled += 1;
                    return Ok(());
                }
                DueStep::Heartbeat => {
                    heartbeat_tried = true;
                    match self.heartbeat(&task, report).await? {
                        Some(next) => next,
                        None => return Ok(()),
                    }
                }
                DueStep::ExceedBudget(budget) => {
                    let failed = self.exceed_budget(&task, budget).await?;
                    report.budgets_exceeded += 1;
                    failed
                }
                DueStep::ExpireLease => {
                    let expired = self.expire_lease(&task).await?;
                    report.leases_expired += 1;
                    expired
                }
                DueStep::ResumeRetry => {
                    let redeliver_at = s.redeliver_at();
                    let queued = s.apply(&task, Action::ResumeRetry { redeliver_at }).await?;
                    report.retries_resumed += 1;
                    queued
                }
                DueStep::Redeliver => match self.redeliver(&task, depths, report).await? {
                    Some(moved) => moved,
                    None => return Ok(()),
                },
                DueStep::Overdue => self.overdue(&task, manual, report).await?,
                DueStep::Escalate => self.escalate(&task, manual, report).await?,
                DueStep::Remind => {
                    let Some(schedule) = manual else {
                        return Err(ApplyError::NoManualSettings(task.definition_ref()));
                    };
                    let reminded = s.apply(&task, Action::Remind { schedule }).await?;
                    report.reminders += 1;
                    reminded
                }
                DueStep::Unhandled(due) => {
                    warn!(task_instance_id = %id, ?due, status = %task.status, "deadline this sweeper does not act on");
                    return Ok(());
                }
            };
        }
        Ok(())
    }

    /// The manual settings of a task waiting on a person.
    async fn manual_settings(
        &self,
        task: &TaskInstance,
    ) -> Result<Option<ManualSettings>, ApplyError> {
        let loaded = self
            .engine
            .definitions()
            .exact(&task.definition_name, task.definition_version)
            .await?;
        match loaded.and_then(|l| l.definition.manual.clone()) {
            Some(settings) => Ok(Some(settings)),
            None => Err(ApplyError::NoManualSettings(task.definition_ref())),
        }
    }

    /// Tells the step waiting on the task that it is alive, and moves the
    /// next heartbeat one interval on (a deadline-only write, no
    /// transition). A step that is gone (its execution stopped or timed out)
    /// has the task cancelled: nobody would take its result. Returns the task
    /// as it is after, `None` once it is cancelled.
    async fn heartbeat(
        &self,
        task: &TaskInstance,
        report: &mut SweepReport,
    ) -> Result<Option<TaskInstance>, ApplyError> {
        let s = &self.engine;
        let id = task.task_instance_id;
        let Some(callback) = &task.callback else {
            let dropped = s.write_deadlines(DeadlineWrite::heartbeat_sent(task, s.now()));
            return Ok(Some(dropped.await?));
        };
        match s.callbacks().heartbeat(&callback.task_token).await {
            Ok(()) => report.heartbeats += 1,
            Err(CallbackError::Gone { code, .. }) => {
                info!(task_instance_id = %id, %code, "the step waiting on the task is gone; cancelling it");
                // The token is dead: it is not kept, and nobody is answered.
                let mut orphan = task.clone();
                orphan.callback = None;
                let reason = format!(
                    "the Step Functions step waiting on the task is gone ({code}): its execution was stopped or timed out"
                );
                s.apply(
                    &orphan,
                    Action::Cancel {
                        reason,
                        by: Some("step-functions".into()),
                    },
                )
                .await?;
                report.steps_gone += 1;
                return Ok(None);
            }
            Err(CallbackError::Aws(e)) if e.class != ErrorClass::Refused => {
                warn!(task_instance_id = %id, error = %e, "heartbeat not sent; the next sweep tries again");
                report.errors += 1;
                return Ok(Some(task.clone()));
            }
            Err(CallbackError::Aws(e)) => {
                warn!(task_instance_id = %id, error = %e, "heartbeat refused; the next one is sent on schedule");
            }
        }
        let moved = s.write_deadlines(DeadlineWrite::heartbeat_sent(task, s.now()));
        Ok(Some(moved.await?))
    }

    /// A stage message not acted on by its deadline: the handler that got it
    /// died, or the send after the write was lost. It is sent again, unless
    /// its queue still holds messages: then it may simply be waiting its turn
    /// behind them, and re-sending live work would only grow the backlog. The
    /// task is looked at again after as long as it has already waited
    /// (doubling), and re-sent anyway once it has waited
    /// `redeliver_anyway_after`. Returns the task after a re-send, `None`
    /// when the sweeper only looks again later.
    async fn redeliver(
        &self,
        task: &TaskInstance,
        depths: &Depths,
        report: &mut SweepReport,
    ) -> Result<Option<TaskInstance>, ApplyError> {
        let s = &self.engine;
        let now = s.now();
        let settings = s.settings();
        let waited = (now - task.updated_at).to_std().unwrap_or_default();
        let backlog = Stage::awaited_by(task.status, task.task_type)
            .map(|stage| s.queue_for(stage, task.priority))
            .and_then(|url| depths.get(url))
            .is_some_and(|depth| depth.pending() > 0);
        if backlog && waited < settings.redeliver_anyway_after {
            let again = now + waited.max(settings.redeliver_after);
            s.write_deadlines(DeadlineWrite::wake_at(task, Some(again)))
                .await?;
            report.redelivery_deferred += 1;
            return Ok(None);
        }
        // Moving the deadline is the write that makes one of two
        // overlapping sweeps the one that sends (the engine sends after it).
        let moved = s
            .apply(
                task,
                Action::Redeliver {
                    redeliver_at: s.redeliver_at(),
                },
            )
            .await?;
        info!(task_instance_id = %task.task_instance_id, status = %task.status, waited_ms = waited.as_millis() as u64, "stage message re-sent");
        report.redelivered += 1;
        Ok(Some(moved))
    }

    /// Queue depths, once per sweep: as metrics, for the console's chart, and to tell a lost stage
    /// message from one waiting its turn.
    async fn sample_queues(&self) -> Depths {
        let s = &self.engine;
        let urls = s.queue_urls();
        let mut depths = Depths::new();
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
        let mut sample = DepthSample {
            minute: minute_of(s.now()),
            queues: Default::default(),
        };
        for (name, url) in queues {
            match s.queues().depth(url).await {
                Ok(depth) => {
                    sample.queues.insert(
                        name.to_owned(),
                        Depth {
                            waiting: depth.waiting,
                            in_flight: depth.in_flight,
                        },
                    );
                    s.metrics().put(
                        &[("Queue", name)],
                        &[
                            ("QueueDepth", depth.waiting as f64, Unit::Count),
                            ("QueueInFlight", depth.in_flight as f64, Unit::Count),
                        ],
                    );
                    depths.insert(url.clone(), depth);
                }
                Err(e) => warn!(queue = name, error = %e, "queue depth not sampled"),
            }
        }
        // Kept for the console's chart of queue depths (one write a minute).
        if !sample.queues.is_empty()
            && let Err(e) = s.figures().record_depths(&sample).await
        {
            warn!(error = %e, "queue depths not kept for the charts");
        }
        depths
    }

    /// The task ran out of its whole-task budget: it fails with `TIMEOUT`,
    /// whatever it was doing, and a running attempt's slot is freed.
    async fn exceed_budget(
        &self,
        task: &TaskInstance,
        budget: DeadlineKind,
    ) -> Result<TaskInstance, ApplyError> {
        let s = &self.engine;
        let message = match budget {
            DeadlineKind::StartBy => "the task did not start within its scheduleToStartSeconds",
            _ => "the task did not finish within its scheduleToCloseSeconds",
        };
        let error =
            TaskError::new(TIMEOUT, message).with_details(serde_json::json!({ "budget": budget }));
        let failed = s.apply(task, Action::Fail { error }).await?;
        if task.status == TaskStatus::Running {
            let _ = s
                .slots()
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
        let s = &self.engine;
        let pools = match s.slots().pools().await {
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
                let leaked = match s.tasks().get(holder).await {
                    Ok(None) => true,
                    Ok(Some(task)) => {
                        task.status != TaskStatus::Running && task.updated_at < settled_before
                    }
                    Err(_) => false,
                };
                if leaked && s.slots().release(&pool, holder).await.is_ok() {
                    info!(pool, task_instance_id = %holder, "leaked concurrency slot freed");
                    report.slots_repaired += 1;
                }
            }
        }
    }

    /// A manual task passed its due time: it ends TIMED_OUT, or COMPLETED
    /// with the definition's default output.
    async fn overdue(
        &self,
        task: &TaskInstance,
        manual: Option<ManualSettings>,
        report: &mut SweepReport,
    ) -> Result<TaskInstance, ApplyError> {
        let Some(settings) = manual else {
            return Err(ApplyError::NoManualSettings(task.definition_ref()));
        };
        let due_at = task.due_at.map(|d| d.to_rfc3339()).unwrap_or_default();
        let error = TaskError::new(
            TIMEOUT,
            format!("the task was not completed by its due time {due_at}"),
        );
        let default_output = match settings.on_due {
            OnDue::Fail => None,
            OnDue::Complete { output } => Some(output),
        };
        let action = Action::TimeOut {
            error,
            default_output,
        };
        let ended = self.engine.apply(task, action).await?;
        report.overdue += 1;
        Ok(ended)
    }

    /// A manual task goes to its definition's next escalation step.
    async fn escalate(
        &self,
        task: &TaskInstance,
        manual: Option<ManualSettings>,
        report: &mut SweepReport,
    ) -> Result<TaskInstance, ApplyError> {
        let level = task.manual.as_ref().map_or(0, |p| p.escalation_level) as usize;
        let Some((step, settings)) = manual.as_ref().and_then(|m| {
            m.escalation
                .get(level)
                .map(|step| (step.clone(), m.clone()))
        }) else {
            return Err(ApplyError::NoManualSettings(task.definition_ref()));
        };
        let action = Action::Assign {
            assignee: step.to,
            due_at: None,
            schedule: Some(settings),
            escalated: true,
            by: None,
        };
        let escalated = self.engine.apply(task, action).await?;
        report.escalations += 1;
        Ok(escalated)
    }

    async fn expire_lease(&self, task: &TaskInstance) -> Result<TaskInstance, ApplyError> {
        let s = &self.engine;
        let error = TaskError::new(
            TIMEOUT,
            format!(
                "attempt {} did not finish within its lease: the executor stopped or hung",
                task.attempt
            ),
        );
        let policy = match s
            .definitions()
            .exact(&task.definition_name, task.definition_version)
            .await?
        {
            Some(loaded) => loaded.definition.retry.clone(),
            None => tel_core::domain::RetryPolicy {
                max_attempts: 1,
                ..Default::default()
            },
        };
        info!(task_instance_id = %task.task_instance_id, attempt = task.attempt, "lease expired");
        let after = retry_or_fail(s, None, task, &policy, RunError::retryable(error)).await?;
        // The dead attempt's concurrency slot (if its definition has a limit) is free again.
        if let Err(e) = s
            .slots()
            .release(&slot_pool(&task.definition_name), task.task_instance_id)
            .await
        {
            warn!(error = %e, "slot not released; the next sweep repairs it");
        }
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineBuilder;
    use crate::handlers::Router;
    use serde_json::json;
    use tel_core::clock::ManualClock;
    use tel_core::domain::{ExecutionRequest, TaskDefinition};
    use tel_core::fakes::StepCall;

    #[tokio::test]
    async fn a_person_s_task_whose_settings_cannot_be_read_still_has_its_budget_enforced() {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let (builder, _) = EngineBuilder::in_memory(Default::default());
        let engine = Arc::new(builder.clock(clock.clone()).build());
        let definition = TaskDefinition::parse(json!({
            "name": "approve", "type": "manual",
            "manual": { "assignment": { "strategy": "group", "id": "approvers" } }
        }))
        .unwrap();
        let registered = engine.definitions().register(definition).await.unwrap();
        let mut task = assigned(&registered, engine.now());
        // A version that is not stored: its manual settings cannot be read.
        task.definition_version = 9;
        task.close_by = Some(engine.now() + chrono::Duration::seconds(30));
        task.apply_standing_deadlines(None, engine.now());
        task.schedule_wake(None);
        engine.tasks().create(&task).await.unwrap();

        clock.advance(chrono::Duration::seconds(31));
        let report = Sweeper::new(engine.clone()).sweep().await;
        assert_eq!(report.budgets_exceeded, 1, "{report:?}");
        let failed = engine
            .tasks()
            .get(task.task_instance_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(failed.status, TaskStatus::Failed);
    }

    /// The assignment manual-assign makes for these tests' definition.
    fn to_approvers() -> Action {
        Action::Assign {
            assignee: tel_core::domain::Assignee {
                kind: tel_core::domain::AssigneeType::Group,
                id: "approvers".into(),
            },
            due_at: None,
            schedule: None,
            escalated: false,
            by: None,
        }
    }

    /// An ASSIGNED task of `definition`, as manual-assign leaves it.
    fn assigned(definition: &TaskDefinition, now: chrono::DateTime<chrono::Utc>) -> TaskInstance {
        let new = tel_core::domain::NewTask::of_step(
            (definition.name.as_str(), definition.version),
            "wf",
            "s",
            json!({}),
        );
        tel_core::domain::Creation::new(new, now, now)
            .then(to_approvers(), now)
            .unwrap()
            .task
    }

    #[tokio::test]
    async fn a_waiting_step_hears_heartbeats_until_it_is_gone_then_the_task_is_cancelled() {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let (builder, handles) = EngineBuilder::in_memory(Default::default());
        let engine = Arc::new(builder.clock(clock.clone()).build());
        let definition = TaskDefinition::parse(json!({
            "name": "approve", "type": "manual", "heartbeatSeconds": 60,
            "manual": { "assignment": { "strategy": "group", "id": "approvers" } }
        }))
        .unwrap();
        engine.definitions().register(definition).await.unwrap();
        let request = ExecutionRequest::parse(json!({
            "taskDefinitionId": "approve", "workflowInstanceId": "wf", "stepId": "s",
            "input": {}, "taskToken": "token-1"
        }))
        .unwrap();
        let task = Router::new(engine.clone())
            .accept(request, None, None, None)
            .await
            .unwrap();
        let assigned = engine.apply(&task, to_approvers()).await.unwrap();
        assert!(assigned.deadlines.contains_key(&DeadlineKind::Heartbeat));
        let sweeper = Sweeper::new(engine.clone());
        let id = task.task_instance_id;

        clock.advance(chrono::Duration::seconds(61));
        assert_eq!(sweeper.sweep().await.heartbeats, 1);
        let heartbeat = StepCall::Heartbeat {
            token: "token-1".into(),
        };
        assert_eq!(handles.callbacks.take(), [heartbeat]);
        let after = engine.tasks().get(id).await.unwrap().unwrap();
        assert_eq!(after.version, assigned.version, "no transition");
        assert_eq!(
            after.deadlines[&DeadlineKind::Heartbeat],
            engine.now() + chrono::Duration::seconds(60)
        );
        // Not due again yet: nothing sent.
        clock.advance(chrono::Duration::seconds(30));
        assert_eq!(sweeper.sweep().await.heartbeats, 0);

        handles.callbacks.stop("token-1");
        clock.advance(chrono::Duration::seconds(31));
        let report = sweeper.sweep().await;
        assert_eq!((report.heartbeats, report.steps_gone), (0, 1));
        let cancelled = engine.tasks().get(id).await.unwrap().unwrap();
        assert_eq!(cancelled.status, TaskStatus::Cancelled);
        assert!(cancelled.callback.is_none());
        assert!(cancelled.deadlines.is_empty());
    }
}
