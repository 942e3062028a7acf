//! What every handler works with, built once per cold start: the stores, the
//! bus, the queues, the clock and the deployment settings. `apply` is the one
//! way handlers change a task: plan the transition, write it with its history
//! and outbox events, then publish the events.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::warn;

use super::definitions::DefinitionCache;
use crate::clock::Clock;
use crate::config::{QueueUrls, Settings};
use crate::domain::{
    Action, Envelope, EventType, IllegalTransition, Stage, TaskEvent, TaskInstance, TaskInstanceId,
    Transition, transition,
};
use crate::metrics::{Metrics, Unit};
use crate::ports::{
    AssignmentState, BreakerStore, ConcurrencySlots, DeadLetterLog, IntegrationStore,
};
use crate::ports::{
    BusEvent, EventPublisher, OutgoingMessage, QueueError, QueueSender, StoreError, TaskStore,
};

/// Tries of one transition write before the record is left to SQS.
const COMMIT_ATTEMPTS: usize = 3;

#[derive(Clone)]
pub struct Services {
    pub tasks: Arc<dyn TaskStore>,
    pub assignment: Arc<dyn AssignmentState>,
    pub dead_letters: Arc<dyn DeadLetterLog>,
    pub slots: Arc<dyn ConcurrencySlots>,
    pub integrations: Arc<dyn IntegrationStore>,
    pub breakers: Arc<dyn BreakerStore>,
    pub metrics: Arc<Metrics>,
    pub definitions: Arc<DefinitionCache>,
    pub publisher: Arc<dyn EventPublisher>,
    pub queues: Arc<dyn QueueSender>,
    pub queue_urls: QueueUrls,
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
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
}

impl ApplyError {
    /// Someone else moved the task first, or it had already moved on: nothing to do.
    pub fn is_superseded(&self) -> bool {
        matches!(self, Self::Illegal(_)) || matches!(self, Self::Store(e) if e.is_conflict())
    }
}

impl Services {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// When the sweeper should re-send a stage message sent now.
    pub fn redeliver_at(&self) -> DateTime<Utc> {
        self.redeliver_after(self.now())
    }

    pub fn redeliver_after(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at + self.settings.redeliver_after
    }

    /// Plans, writes and announces one transition.
    pub async fn apply(
        &self,
        task: &TaskInstance,
        action: Action,
    ) -> Result<TaskInstance, ApplyError> {
        let planned = transition(task, action, self.now())?;
        self.commit_with_retries(&planned).await?;
        self.observe(&planned.task, &planned.events);
        self.announce(planned.task.task_instance_id, &planned.events)
            .await;
        Ok(planned.task)
    }

    /// Writes a transition, retrying briefly when the store is unavailable
    /// (throttled, a transaction conflict): a record failed for that costs a
    /// whole redelivery, and after an attempt has run, possibly the attempt.
    /// A conflict is an answer, not a failure, and is returned at once.
    async fn commit_with_retries(&self, planned: &Transition) -> Result<(), StoreError> {
        let mut delay = std::time::Duration::from_millis(50);
        for _ in 1..COMMIT_ATTEMPTS {
            match self.tasks.commit(planned).await {
                Err(StoreError::Unavailable(reason)) => {
                    warn!(task_instance_id = %planned.task.task_instance_id, %reason, "store unavailable; retrying the write");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                }
                other => return other,
            }
        }
        self.tasks.commit(planned).await
    }

    /// Metrics of what just happened to a task, read off its lifecycle events.
    pub fn observe(&self, task: &TaskInstance, events: &[TaskEvent]) {
        let task_type = task.task_type.map_or("unknown", |t| t.as_str());
        let code = |e: &TaskEvent| {
            e.error
                .as_ref()
                .map_or("NONE", |e| e.code.as_str())
                .to_owned()
        };
        for event in events {
            match event.event_type {
                EventType::Created => self.metrics.put(
                    &[("TaskType", task_type)],
                    &[("TasksCreated", 1.0, Unit::Count)],
                ),
                EventType::Completed => {
                    let duration = event.duration_ms.unwrap_or(0) as f64;
                    self.metrics.put(
                        &[("TaskType", task_type)],
                        &[
                            ("TasksCompleted", 1.0, Unit::Count),
                            ("TaskDuration", duration, Unit::Milliseconds),
                        ],
                    );
                    if let Some(progress) = &task.manual {
                        let waited = crate::domain::state_machine::millis_between(
                            progress.assigned_at,
                            event.occurred_at,
                        ) as f64;
                        self.metrics.put(
                            &[("Definition", &task.definition_name)],
                            &[("ManualCompletionTime", waited, Unit::Milliseconds)],
                        );
                    }
                }
                EventType::Failed => self.metrics.put(
                    &[("TaskType", task_type), ("ErrorCode", &code(event))],
                    &[("TasksFailed", 1.0, Unit::Count)],
                ),
                EventType::RetryScheduled => self.metrics.put(
                    &[("TaskType", task_type), ("ErrorCode", &code(event))],
                    &[("Retries", 1.0, Unit::Count)],
                ),
                EventType::TimedOut => self.metrics.put(
                    &[("TaskType", task_type)],
                    &[("Timeouts", 1.0, Unit::Count)],
                ),
                _ => {}
            }
        }
    }

    /// Publishes events already in the outbox and clears them. A failure is
    /// logged and left to the sweeper, which republishes from the outbox:
    /// the state change is already durable.
    pub async fn announce(&self, id: TaskInstanceId, events: &[TaskEvent]) {
        if events.is_empty() {
            return;
        }
        let bus_events: Vec<BusEvent> = events.iter().map(BusEvent::from).collect();
        if let Err(e) = self.publisher.publish(&bus_events).await {
            warn!(task_instance_id = %id, error = %e, "events not published; the sweeper will republish them from the outbox");
            return;
        }
        let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
        if let Err(e) = self.tasks.clear_outbox(id, &ids).await {
            warn!(task_instance_id = %id, error = %e, "outbox not cleared; events may be published again (same event ids)");
        }
    }

    /// The queue of a stage; tasks at or above the priority threshold take
    /// the stage's priority lane where the deployment has one.
    pub fn queue_for(&self, stage: Stage, priority: i32) -> &str {
        let urls = &self.queue_urls;
        let high = priority >= self.settings.priority_threshold;
        match stage {
            Stage::Input | Stage::Output => urls
                .validate_priority
                .as_deref()
                .filter(|_| high)
                .unwrap_or(&urls.validate),
            Stage::Execute => urls
                .execute_priority
                .as_deref()
                .filter(|_| high)
                .unwrap_or(&urls.execute),
            Stage::Assign => &urls.manual,
        }
    }

    /// Sends the task's next stage message, optionally delayed.
    pub async fn send_stage(
        &self,
        task: &TaskInstance,
        stage: Stage,
        delay_seconds: u32,
    ) -> Result<(), QueueError> {
        let envelope = Envelope {
            task_instance_id: task.task_instance_id,
            stage,
            attempt: task.attempt,
            trace_id: task.trace_id.clone(),
        };
        let message = OutgoingMessage {
            trace: task.trace_id.clone(),
            body: envelope.to_body(),
            delay_seconds,
        };
        self.queues
            .send(self.queue_for(stage, task.priority), vec![message])
            .await
    }
}
