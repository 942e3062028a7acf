//! executor (execute queue): checks a new run's input against the input
//! schema (an automated task's first stage: it fails VALIDATION_ERROR
//! here), then claims a task waiting for an attempt with a
//! conditional write (CREATED or QUEUED → RUNNING, attempt + 1, lease until
//! now + timeout), runs it through its `Runner`, validates the output against
//! the cached compiled schema and completes the task, or passes the failure
//! on to the retry policy. A JavaScript attempt on a first delivery writes
//! its start with its end instead, in one write (`claim`). A duplicate or
//! stale message does nothing.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::RngExt;
use serde_json::json;
use tracing::{info, warn};

use crate::attempts::retry_or_fail;
use crate::claim::{self, Claim};
use crate::definitions::LoadedDefinition;
use crate::metrics::Unit;
use crate::stage::{Delivery, Hiding, StageHandler};
use crate::{ApplyError, TaskEngine};
use tel_core::domain::task_error::{OUTPUT_VALIDATION_ERROR, PAYLOAD_TOO_LARGE, TIMEOUT};
use tel_core::domain::{
    Action, Dispatch, Stage, TaskError, TaskInstance, TaskInstanceId, TaskStatus, Transition,
    transition,
};
use tel_core::ports::runner::{Admission, RunError, RunJob, Runners};

/// The longest delay an SQS message can carry.
const MAX_QUEUE_DELAY_SECONDS: u32 = 900;

/// Most seconds a task waits for a free concurrency slot before it looks again.
const SLOT_WAIT_SECONDS: u32 = 3;

/// The slot pool of a definition's `limits.maxConcurrent`.
pub fn slot_pool(definition: &str) -> String {
    format!("definition:{definition}")
}

/// Slack for a runner to report its own timeout before the executor gives up on it.
const RUNNER_GRACE: Duration = Duration::from_secs(1);

pub struct Executor {
    engine: Arc<TaskEngine>,
    runners: Runners,
}

impl Executor {
    pub fn new(engine: Arc<TaskEngine>, runners: Runners) -> Self {
        Self { engine, runners }
    }

    /// A slot in every pool, or in none.
    async fn acquire_all(
        &self,
        pools: &[(String, u32)],
        holder: TaskInstanceId,
    ) -> Result<bool, ApplyError> {
        for (i, (pool, max)) in pools.iter().enumerate() {
            if !self.engine.slots().acquire(pool, holder, *max).await? {
                self.release_all(&pools[..i], holder).await;
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn release_all(&self, pools: &[(String, u32)], holder: TaskInstanceId) {
        for (pool, _) in pools {
            if let Err(e) = self.engine.slots().release(pool, holder).await {
                warn!(pool, error = %e, "slot not released; the sweeper will repair it");
            }
        }
    }

    /// Output checked against the output schema and the task completed, or
    /// the failure handed to the retry policy. An output that does not match
    /// its schema fails the task: another attempt of the same code would not
    /// change it.
    async fn finish(
        &self,
        running: &TaskInstance,
        held: Option<Transition>,
        loaded: &LoadedDefinition,
        outcome: Result<serde_json::Value, RunError>,
    ) -> Result<(), ApplyError> {
        let s = &self.engine;
        let output = match outcome {
            Ok(output) => output,
            Err(failure) => {
                retry_or_fail(s, held, running, &loaded.definition.retry, failure).await?;
                return Ok(());
            }
        };
        let violations = loaded.output()?.violations(&output);
        let action = if violations.is_empty() {
            Action::Complete {
                output: Some(output),
                by: None,
            }
        } else {
            let error = TaskError::new(
                OUTPUT_VALIDATION_ERROR,
                format!(
                    "output does not match the outputSchema of {}: {} error(s)",
                    running.definition_ref(),
                    violations.len()
                ),
            )
            .with_details(json!({ "errors": violations }));
            Action::Fail { error }
        };
        let finished = s.apply_after(held, running, action).await?;
        info!(status = %finished.status, attempt = finished.attempt, "attempt finished");
        Ok(())
    }
    /// One attempt, from its start to its end written, the task's slots held.
    async fn attempt(
        &self,
        task: &TaskInstance,
        loaded: &LoadedDefinition,
        delivery: Delivery,
        holds_slots: bool,
        timeout: Duration,
        lease_until: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ApplyError> {
        let s = &self.engine;
        let definition = &loaded.definition;
        let start = Action::Start { lease_until };
        let may_hold = Claim::may_hold(task, definition, delivery, holds_slots, s.now());
        let (mut running, mut claim) = match may_hold {
            Some(write_by) => {
                let start = transition(task, start, s.now())?;
                let running = start.task.clone();
                let start = Box::new(start);
                (running, Claim::Held { start, write_by })
            }
            None => (s.apply(task, start).await?, Claim::Written),
        };
        info!(attempt = running.attempt, definition = %running.definition_ref(), start_held = matches!(claim, Claim::Held { .. }), "attempt started");

        let job = RunJob {
            task: &running,
            definition,
            timeout,
        };
        let run = tokio::time::timeout(timeout + RUNNER_GRACE, self.runners.run(job));
        let (ran, written) = claim.attend(s, run).await?;
        if let Some(written) = written {
            running = written;
        }
        let outcome = match ran {
            Ok(outcome) => outcome,
            Err(_) => Err(RunError::retryable(TaskError::new(
                TIMEOUT,
                format!("the attempt ran past its {}s timeout", timeout.as_secs()),
            ))),
        };
        // The definition's limit, never above the deployment's per-payload cap.
        let max_output = definition
            .limits
            .max_output_bytes
            .unwrap_or(u64::MAX)
            .min(s.settings().max_payload_bytes);
        let outcome = outcome.and_then(|output| {
            let bytes = output.to_string().len() as u64;
            if bytes > max_output {
                return Err(RunError::permanent(
                    TaskError::new(
                        PAYLOAD_TOO_LARGE,
                        format!("the output takes {bytes} bytes; the limit is {max_output}"),
                    )
                    .with_details(json!({ "bytes": bytes, "limitBytes": max_output })),
                ));
            }
            Ok(output)
        });
        let implementation = definition
            .implementation
            .as_ref()
            .map_or("none", |i| i.kind());
        let result = match &outcome {
            Ok(_) => "succeeded",
            Err(f) if f.error.code == TIMEOUT => "timedOut",
            Err(_) => "failed",
        };
        let took = running.attempt_started_at.map_or(0, |at| {
            tel_core::domain::state_machine::millis_between(at, s.now())
        });
        let finished = self.finish(&running, claim.held(), loaded, outcome).await;
        // A run whose end the table refused (a duplicate's, a cancelled
        // task's) is not an attempt on record: not counted either.
        if !matches!(&finished, Err(e) if e.is_superseded()) {
            s.metrics().put(
                &[
                    ("TaskType", definition.task_type.as_str()),
                    ("Implementation", implementation),
                    ("Outcome", result),
                ],
                &[
                    ("ExecutionTime", took as f64, Unit::Milliseconds),
                    ("Attempts", 1.0, Unit::Count),
                ],
            );
        }
        finished
    }
}

fn execute_after(delay_seconds: u32) -> Dispatch {
    Dispatch {
        stage: Stage::Execute,
        delay_seconds,
    }
}

#[async_trait]
impl StageHandler for Executor {
    const NAME: &'static str = "executor";
    const STAGE: Stage = Stage::Execute;

    fn engine(&self) -> &TaskEngine {
        &self.engine
    }

    fn message_hiding(&self) -> Option<Hiding> {
        let redeliver_after = self.engine.settings().redeliver_after;
        Some(claim::hiding_of_first_deliveries(redeliver_after))
    }

    async fn act(
        &self,
        task: TaskInstance,
        loaded: Arc<LoadedDefinition>,
        delivery: Delivery,
    ) -> Result<(), ApplyError> {
        let s = &self.engine;
        // A new run's input, before its first attempt: this is its first stage.
        if task.status == TaskStatus::Created
            && let Some(error) = loaded.input_error(&task)?
        {
            info!(code = %error.code, message = %error.message, "task failed validation");
            return s.apply(&task, Action::Fail { error }).await.map(|_| ());
        }
        let definition = &loaded.definition;
        let timeout = Duration::from_secs(u64::from(definition.timeout_seconds))
            .min(s.settings().max_task_timeout);
        let lease_until = s.now() + timeout + s.settings().lease_grace;
        // Before the attempt: may it start now (an integration's circuit), and
        // which concurrency pools must it hold a slot in?
        let pending = RunJob {
            task: &task,
            definition,
            timeout,
        };
        let mut pools = match self.runners.admit(&pending).await {
            Ok(Admission::Go { pools }) => pools,
            Ok(Admission::Wait { delay, reason }) => {
                let delay = (delay.as_secs_f64().ceil() as u32).clamp(1, MAX_QUEUE_DELAY_SECONDS);
                s.dispatch(&task, execute_after(delay)).await?;
                info!(delay, reason, "the task waits; not an attempt");
                return Ok(());
            }
            Err(refused) if refused.retryable => {
                return Err(ApplyError::NotAdmitted(refused.error.message));
            }
            Err(refused) => {
                return s
                    .apply(
                        &task,
                        Action::Fail {
                            error: refused.error,
                        },
                    )
                    .await
                    .map(|_| ());
            }
        };
        if let Some(max) = definition.limits.max_concurrent {
            pools.insert(0, (slot_pool(&task.definition_name), max));
        }
        if !self.acquire_all(&pools, task.task_instance_id).await? {
            // Full: back on the queue a little later. Not an attempt, not a failure.
            let delay = rand::rng().random_range(1..=SLOT_WAIT_SECONDS);
            s.dispatch(&task, execute_after(delay)).await?;
            info!(delay, "concurrency limit reached; the task waits");
            return Ok(());
        }
        let finished = self
            .attempt(
                &task,
                &loaded,
                delivery,
                !pools.is_empty(),
                timeout,
                lease_until,
            )
            .await;
        // The attempt is over however it ended: its slots go back to their pools.
        self.release_all(&pools, task.task_instance_id).await;
        finished
    }
}
