//! tel-engine: the task engine every function links, over tel-core (the
//! domain and its ports) and tel-aws (the AWS adapters): the engine itself
//! (here), the handlers each function's `main` runs (`handlers`), the Lambda
//! glue (`lambda`, `bootstrap`), the operator's reads (`admin`) and the
//! published contract (`contract`).
//!
//! The task engine: the one way tasks change. A handler asks it to apply an
//! action; the engine plans the transition (the state machine), writes it
//! (one conditional write), records metrics, and sends the stage message the
//! transition asked for. Lifecycle events are not published here: they follow
//! from the write, through the table's change stream (`handlers::publisher`).
//!
//! Built once per cold start by `EngineBuilder`, the same way in Lambda, in
//! the local runner, in the benches and in the tests.

// Task errors carry their JSON details by value (serde_json's ordered map
// makes `Value` large); they travel on failure paths only, so boxing them
// everywhere would cost clarity for nothing measurable.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod assignment;
pub mod attempts;
pub mod batch;
pub mod bootstrap;
pub mod claim;
pub mod config;
pub mod contract;
pub mod definitions;
pub mod handlers;
pub mod lambda;
pub mod metrics;
pub mod notices;
pub mod operations;
pub mod stage;
pub mod step_callbacks;

mod builder;
#[cfg(any(test, feature = "fakes"))]
mod in_memory;
mod observe;
mod payloads;
mod replay;
mod send_buffer;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::warn;

pub use builder::{EngineBuilder, TablePorts};
#[cfg(any(test, feature = "fakes"))]
pub use in_memory::{InMemoryHandles, in_memory_queue_urls};
pub use payloads::{REQUEST_PAYLOAD_PREFIX, is_request_payload_key};
pub use replay::ReplayError;
pub use send_buffer::SendBuffer;

use crate::config::{QueueUrls, Settings};
use crate::definitions::DefinitionCache;
use crate::metrics::Metrics;
use tel_core::clock::Clock;
use tel_core::domain::{
    Action, Creation, DeadlineWrite, Dispatch, Envelope, IllegalTransition, Stage, TaskInstance,
    TaskStatus, Transition, transition,
};
use tel_core::ports::{
    AssignmentState, BreakerStore, ConcurrencySlots, DeadLetterLog, EventPublisher, FigureStore,
    IntegrationStore, NoticeLedger, OperationStore, OutgoingMessage, PayloadError, PayloadStore,
    PeopleStore, QueueError, QueueSender, StepCallbacks, StoreError, TaskStore,
};

/// Tries of one transition write before the record is left to SQS.
const COMMIT_ATTEMPTS: usize = 3;

pub struct TaskEngine {
    tasks: Arc<dyn TaskStore>,
    assignment: Arc<dyn AssignmentState>,
    dead_letters: Arc<dyn DeadLetterLog>,
    slots: Arc<dyn ConcurrencySlots>,
    integrations: Arc<dyn IntegrationStore>,
    breakers: Arc<dyn BreakerStore>,
    people: Arc<dyn PeopleStore>,
    notices: Arc<dyn NoticeLedger>,
    operations: Arc<dyn OperationStore>,
    figures: Arc<dyn FigureStore>,
    definitions: Arc<DefinitionCache>,
    publisher: Arc<dyn EventPublisher>,
    queues: Arc<dyn QueueSender>,
    queue_urls: QueueUrls,
    metrics: Arc<Metrics>,
    settings: Settings,
    clock: Arc<dyn Clock>,
    /// Where payloads over the threshold go; none without a payload bucket.
    payloads: Option<Arc<dyn PayloadStore>>,
    /// Answers the orchestrator steps waiting on tasks (Step Functions).
    callbacks: Arc<dyn StepCallbacks>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The task's status does not allow the action: a late or duplicate message.
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// A task waits on a person but its definition version has no manual
    /// settings (its definition record is not what the task was created
    /// from): nothing about it is decided until it is.
    #[error("definition {0} has no manual settings")]
    NoManualSettings(String),
    /// A runner could not admit the attempt now (its checks could not be
    /// made: the breaker's or the slots' store unreachable); the message is
    /// delivered again.
    #[error("the attempt was not admitted now: {0}")]
    NotAdmitted(String),
}

impl ApplyError {
    /// Someone else moved the task first, or it had already moved on: nothing to do.
    pub fn is_superseded(&self) -> bool {
        matches!(self, Self::Illegal(_)) || matches!(self, Self::Store(e) if e.is_conflict())
    }

    /// The error the task ends with when this stopped its work for good (a
    /// payload or record over a limit, a table or queue missing or denied);
    /// `None` when trying again may help.
    pub fn task_error(&self) -> Option<tel_core::domain::TaskError> {
        match self {
            Self::Illegal(_) => None,
            Self::Store(e) => e.task_error(),
            Self::Queue(e) => e.task_error(),
            Self::Payload(e) => e.task_error(),
            Self::NoManualSettings(_) | Self::NotAdmitted(_) => None,
        }
    }
}

impl TaskEngine {
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// A builder holding this engine's parts, to replace one (a test's clock).
    pub fn rebuild(&self) -> EngineBuilder {
        EngineBuilder::from_engine(self)
    }

    pub fn tasks(&self) -> &Arc<dyn TaskStore> {
        &self.tasks
    }
    pub fn assignment(&self) -> &Arc<dyn AssignmentState> {
        &self.assignment
    }
    pub fn dead_letters(&self) -> &Arc<dyn DeadLetterLog> {
        &self.dead_letters
    }
    pub fn slots(&self) -> &Arc<dyn ConcurrencySlots> {
        &self.slots
    }
    pub fn integrations(&self) -> &Arc<dyn IntegrationStore> {
        &self.integrations
    }
    pub fn breakers(&self) -> &Arc<dyn BreakerStore> {
        &self.breakers
    }

    /// The registered directory and people's notification preferences.
    pub fn people(&self) -> &Arc<dyn PeopleStore> {
        &self.people
    }

    /// What was notified, so each notice goes out once.
    pub fn notices(&self) -> &Arc<dyn NoticeLedger> {
        &self.notices
    }

    /// Bulk operations and the index that selects their tasks.
    pub fn operations(&self) -> &Arc<dyn OperationStore> {
        &self.operations
    }

    /// The console's chart figures: counts by definition and minute, queue depths.
    pub fn figures(&self) -> &Arc<dyn FigureStore> {
        &self.figures
    }
    pub fn definitions(&self) -> &Arc<DefinitionCache> {
        &self.definitions
    }
    /// The bus, for what is published outside a task's lifecycle (system
    /// functions, circuit changes) and for the change-stream publisher.
    pub fn publisher(&self) -> &Arc<dyn EventPublisher> {
        &self.publisher
    }
    pub fn queues(&self) -> &Arc<dyn QueueSender> {
        &self.queues
    }
    pub fn queue_urls(&self) -> &QueueUrls {
        &self.queue_urls
    }
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
    pub fn payloads(&self) -> Option<&Arc<dyn PayloadStore>> {
        self.payloads.as_ref()
    }
    pub fn callbacks(&self) -> &Arc<dyn StepCallbacks> {
        &self.callbacks
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// When a stage message sent now should have been acted on: the sweeper
    /// looks again then.
    pub fn redeliver_at(&self) -> DateTime<Utc> {
        self.redeliver_after(self.now())
    }

    pub fn redeliver_after(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at + self.settings.redeliver_after
    }

    /// Writes a deadline-only plan (a heartbeat moved on, a wake-up moved):
    /// no transition, no history entry, no event; conditional on the task's
    /// version like every task write. Returns the task as written.
    pub async fn write_deadlines(&self, plan: DeadlineWrite) -> Result<TaskInstance, ApplyError> {
        match &plan {
            DeadlineWrite::WakeUp { task, at } => self.tasks.reschedule(task, *at).await?,
            DeadlineWrite::Deadlines(task) => self.tasks.update_deadlines(task).await?,
        }
        Ok(plan.task_after())
    }

    /// A task its messages kept out of the deadline index (no wake-up,
    /// `Creation::kept_by_message`) whose message came again: a handler died
    /// or failed holding it. From now on the index keeps it too (the sweeper
    /// looks at it after the re-send time), so a message given up on, or
    /// lost with its handler, cannot leave it with nothing to bring it back.
    /// Once per task at most; any other task is returned as it is.
    pub async fn keep_in_index(&self, task: TaskInstance) -> Result<TaskInstance, ApplyError> {
        let waiting = matches!(task.status, TaskStatus::Created | TaskStatus::Queued);
        if task.wake_at.is_some() || !waiting {
            return Ok(task);
        }
        let at = Some(self.redeliver_at());
        self.write_deadlines(DeadlineWrite::wake_at(&task, at))
            .await
    }

    /// Plans, writes and follows up one transition: its metrics and the
    /// stage message it asks for. Returns the task as written.
    pub async fn apply(
        &self,
        task: &TaskInstance,
        action: Action,
    ) -> Result<TaskInstance, ApplyError> {
        self.write(transition(task, action, self.now())?).await
    }

    /// `apply` after a transition planned but not written (`held`: an
    /// attempt's start, see `claim`), both in one conditional write; without
    /// it, `apply` on `task`.
    pub async fn apply_after(
        &self,
        held: Option<Transition>,
        task: &TaskInstance,
        action: Action,
    ) -> Result<TaskInstance, ApplyError> {
        let Some(start) = held else {
            return self.apply(task, action).await;
        };
        match self.write(start.then(action, self.now())?).await {
            // The end cannot be stored, for good (too large for the table
            // or the bucket): the start is written alone, so the attempt is
            // on record when the task fails for it.
            Err(e @ (ApplyError::Store(_) | ApplyError::Payload(_)))
                if e.task_error().is_some() =>
            {
                if let Err(start_error) = self.write(start).await {
                    warn!(error = %start_error, "the attempt's start was not recorded either");
                }
                Err(e)
            }
            other => other,
        }
    }

    /// Writes a planned transition and follows it up.
    pub async fn write(&self, mut planned: Transition) -> Result<TaskInstance, ApplyError> {
        self.offload(&mut planned.task).await?;
        self.commit_with_retries(&planned).await?;
        self.observe(&planned.task, &planned.events);
        if let Some(dispatch) = planned.dispatch {
            self.dispatch(&planned.task, dispatch).await?;
        }
        Ok(planned.task)
    }

    /// Stores a new task (idempotently: an existing one is returned as it
    /// is) and sends it on when it is waiting for its first stage, which is
    /// also the case when an earlier delivery stored it and failed to send.
    pub async fn create(&self, creation: &Creation) -> Result<(TaskInstance, bool), ApplyError> {
        let mut task = creation.task.clone();
        self.offload(&mut task).await?;
        let created = self.tasks.create(&task).await?;
        if created.created {
            self.observe(&created.task, &creation.events);
        }
        let dispatch = if created.created {
            creation.dispatch
        } else {
            (created.task.status == TaskStatus::Created)
                .then(|| Dispatch::now(Stage::first(created.task.task_type)))
        };
        if let Some(dispatch) = dispatch {
            self.dispatch(&created.task, dispatch).await?;
        }
        Ok((created.task, created.created))
    }

    /// Ends a task whose work cannot go on (`ApplyError::task_error`): read
    /// afresh, failed unless it already ended. An error here (the table
    /// itself missing) is returned, so the message that brought the work is
    /// kept for redelivery and, in the end, the dead-letter queue.
    pub async fn fail_now(
        &self,
        id: tel_core::domain::TaskInstanceId,
        error: tel_core::domain::TaskError,
    ) -> Result<(), ApplyError> {
        let Some(task) = self.tasks.get(id).await? else {
            return Ok(());
        };
        if task.status.is_terminal() {
            return Ok(());
        }
        warn!(task_instance_id = %id, code = %error.code, message = %error.message, "the task cannot go on: failed");
        match self.apply(&task, Action::Fail { error }).await {
            Err(e) if e.is_superseded() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Writes a transition, retrying briefly when the store fails for now
    /// (throttled): a record failed for that costs a whole redelivery, and
    /// after an attempt has run, possibly the attempt. A conflict is an
    /// answer, not a failure, and a permanent error will not change: both
    /// are returned at once.
    async fn commit_with_retries(&self, planned: &Transition) -> Result<(), StoreError> {
        let mut delay = Duration::from_millis(50);
        for _ in 1..COMMIT_ATTEMPTS {
            match self.tasks.commit(planned).await {
                Err(e) if e.is_transient() => {
                    warn!(task_instance_id = %planned.task.task_instance_id, error = %e, "the write failed for now; retrying it");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                }
                other => return other,
            }
        }
        self.tasks.commit(planned).await
    }

    /// The queue of a stage; tasks at or above the priority threshold take
    /// the stage's priority lane where the deployment has one.
    pub fn queue_for(&self, stage: Stage, priority: i32) -> &str {
        let urls = &self.queue_urls;
        let high = priority >= self.settings.priority_threshold;
        let (priority_lane, normal) = match stage {
            Stage::Input => (&urls.validate_priority, &urls.validate),
            Stage::Execute => (&urls.execute_priority, &urls.execute),
            Stage::Assign => return &urls.manual,
        };
        priority_lane
            .as_deref()
            .filter(|_| high)
            .unwrap_or(normal.as_str())
    }

    /// The URL of one of the deployment's stage queues, by its ARN (an SQS
    /// record's `eventSourceArn`): queue names are unique in an account and
    /// region, and end both.
    pub fn queue_url_of(&self, arn: &str) -> Option<&str> {
        let name = arn.rsplit(':').next()?;
        let urls = &self.queue_urls;
        [&urls.validate, &urls.execute, &urls.manual]
            .into_iter()
            .chain(
                [&urls.validate_priority, &urls.execute_priority]
                    .into_iter()
                    .flatten(),
            )
            .map(String::as_str)
            .find(|url| url.rsplit('/').next() == Some(name))
    }

    /// Sends a task's stage message.
    pub async fn dispatch(
        &self,
        task: &TaskInstance,
        dispatch: Dispatch,
    ) -> Result<(), QueueError> {
        let envelope = Envelope {
            task_instance_id: task.task_instance_id,
            stage: dispatch.stage,
            attempt: task.attempt,
            run: Some(task.run()),
            trace_id: task.trace_id.clone(),
        };
        let message = OutgoingMessage {
            trace: task.trace_id.clone(),
            body: envelope.to_body(),
            delay_seconds: dispatch.delay_seconds,
        };
        let queue = self.queue_for(dispatch.stage, task.priority);
        match send_buffer::hold(task.task_instance_id, queue, message) {
            None => Ok(()),
            Some(message) => self.queues.send(queue, vec![message]).await,
        }
    }
}
