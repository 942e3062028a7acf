//! The pipeline in one process over in-memory ports, on a clock that moves
//! only when told: each message a handler sends is handed to the next handler
//! when its delay is over, a record a handler gives back is delivered again
//! after the visibility timeout (and dead-lettered at the receive limit), and
//! the sweeper runs as its schedule would. Retries, deadlines, leases and
//! breakers play out in milliseconds; and the handlers' own overhead is
//! measured without any I/O.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;

use tel_core::clock::{Clock, ManualClock};
use tel_core::domain::{ExecutionRequest, TaskInstance, TaskInstanceId};
use tel_core::fakes::{RecordingPublisher, RecordingQueue};
use tel_core::ports::BusEvent;
use tel_core::ports::runner::Runners;
use tel_engine::batch::SqsHandler;
use tel_engine::config::Settings;
use tel_engine::handlers::{ChangePublisher, Executor, ManualAssign, Router, Sweeper, Validator};
use tel_engine::{EngineBuilder, InMemoryHandles, TaskEngine};

/// How long a record a handler gave back stays hidden, as the queues'
/// visibility timeout would keep it.
const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the sweeper runs while time is moved: tel dev's cadence.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// A message on its way to a handler.
#[derive(Clone, Debug)]
pub struct Queued {
    pub queue: String,
    pub body: String,
    /// When it becomes visible.
    pub due: DateTime<Utc>,
    /// Deliveries so far.
    pub receives: u32,
    pub message_id: String,
}

pub struct InProcessPipeline {
    pub engine: Arc<TaskEngine>,
    pub queue: Arc<RecordingQueue>,
    pub publisher: Arc<RecordingPublisher>,
    pub clock: Arc<ManualClock>,
    handles: InMemoryHandles,
    router: Router,
    validator: Validator,
    executor: Executor,
    manual: ManualAssign,
    changes: ChangePublisher,
    sweeper: Sweeper,
    waiting: Mutex<Vec<Queued>>,
    dead_letters: Mutex<Vec<Queued>>,
    events: Mutex<Vec<BusEvent>>,
    next_message: AtomicU64,
}

impl InProcessPipeline {
    pub fn new(
        settings: Settings,
        metrics: tel_engine::metrics::Metrics,
        runners: impl FnOnce(&TaskEngine) -> Runners,
    ) -> Self {
        let clock = Arc::new(ManualClock::new(tel_core::clock::SystemClock.now()));
        let (builder, handles) = EngineBuilder::in_memory(settings);
        let engine = Arc::new(builder.metrics(metrics).clock(clock.clone()).build());
        let runners = runners(&engine);
        Self {
            router: Router::new(engine.clone()),
            validator: Validator::new(engine.clone()),
            executor: Executor::new(engine.clone(), runners),
            manual: ManualAssign::new(engine.clone()),
            changes: ChangePublisher::of_engine(&engine),
            sweeper: Sweeper::new(engine.clone()),
            queue: handles.queue.clone(),
            publisher: handles.publisher.clone(),
            clock,
            handles,
            engine,
            waiting: Mutex::default(),
            dead_letters: Mutex::default(),
            events: Mutex::default(),
            next_message: AtomicU64::default(),
        }
    }

    /// Runs one request through every stage whose message is due now,
    /// publishes the events of every write (as the change stream would), and
    /// returns the task as it ends up. Delayed messages wait for `advance`.
    pub async fn run(&self, request: ExecutionRequest) -> anyhow::Result<TaskInstance> {
        let task = self.router.accept(request, None, None, None).await?;
        self.settle().await?;
        self.task(task.task_instance_id).await
    }

    /// Puts a request on the requests queue, as an orchestrator would.
    pub fn submit(&self, body: impl Into<String>) {
        let now = self.clock.now();
        self.enqueue("requests", body.into(), now, 0);
    }

    pub async fn task(&self, id: TaskInstanceId) -> anyhow::Result<TaskInstance> {
        self.engine
            .tasks()
            .get(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("task {id} was never recorded"))
    }

    /// Delivers every message visible now, and what they send that is
    /// visible now, until none is.
    pub async fn settle(&self) -> anyhow::Result<()> {
        loop {
            self.publish_changes().await?;
            let due = self.take_due();
            if due.is_empty() {
                return Ok(());
            }
            for message in due {
                self.deliver(message).await?;
            }
        }
    }

    /// Moves the clock by `by`, stopping at every moment a message becomes
    /// visible and at every sweep, and acting at each as AWS would.
    pub async fn advance(&self, by: Duration) -> anyhow::Result<()> {
        let end = self.clock.now() + by;
        let mut next_sweep = self.clock.now();
        loop {
            self.settle().await?;
            let now = self.clock.now();
            if now >= next_sweep {
                self.sweeper.sweep().await;
                self.settle().await?;
                next_sweep = now + SWEEP_EVERY;
            }
            if now >= end {
                return Ok(());
            }
            let next_message = self
                .waiting
                .lock()
                .expect("lock")
                .iter()
                .map(|m| m.due)
                .min();
            let next = [Some(end), Some(next_sweep), next_message]
                .into_iter()
                .flatten()
                .filter(|at| *at > now)
                .min()
                .unwrap_or(end);
            self.clock.advance(next - now);
        }
    }

    /// Every event published so far, oldest first.
    pub fn events(&self) -> Vec<BusEvent> {
        let mut events = self.events.lock().expect("lock");
        events.extend(self.publisher.take());
        events.clone()
    }

    /// Messages waiting for their delay or for redelivery.
    pub fn queued(&self) -> Vec<Queued> {
        self.waiting.lock().expect("lock").clone()
    }

    /// Messages that reached the receive limit, as a dead-letter queue holds them.
    pub fn dead_letters(&self) -> Vec<Queued> {
        self.dead_letters.lock().expect("lock").clone()
    }

    fn enqueue(&self, queue: &str, body: String, due: DateTime<Utc>, receives: u32) {
        let n = self.next_message.fetch_add(1, Ordering::Relaxed);
        self.waiting.lock().expect("lock").push(Queued {
            queue: queue.to_owned(),
            body,
            due,
            receives,
            message_id: format!("m-{n}"),
        });
    }

    /// What handlers sent moves to the waiting list; the visible ones come
    /// out, oldest first.
    fn take_due(&self) -> Vec<Queued> {
        let now = self.clock.now();
        for (queue, message) in self.queue.take() {
            let delay = chrono::Duration::seconds(i64::from(message.delay_seconds));
            self.enqueue(&queue, message.body, now + delay, 0);
        }
        let mut waiting = self.waiting.lock().expect("lock");
        let (mut due, later): (Vec<Queued>, Vec<Queued>) =
            waiting.drain(..).partition(|m| m.due <= now);
        *waiting = later;
        due.sort_by_key(|m| m.due);
        due
    }

    async fn deliver(&self, mut message: Queued) -> anyhow::Result<()> {
        let handler: &dyn SqsHandler = match message.queue.as_str() {
            "requests" => &self.router,
            "validate" => &self.validator,
            "execute" => &self.executor,
            "manual" => &self.manual,
            other => anyhow::bail!("no handler reads the queue {other}"),
        };
        message.receives += 1;
        let mut record = SqsMessage::default();
        record.message_id = Some(message.message_id.clone());
        record.body = Some(message.body.clone());
        record.attributes.insert(
            "ApproximateReceiveCount".to_owned(),
            message.receives.to_string(),
        );
        let mut event = SqsEvent::default();
        event.records = vec![record];
        let response = handler
            .handle(LambdaEvent::new(event, Default::default()))
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        if !response.batch_item_failures.is_empty() {
            if message.receives >= self.engine.settings().max_receive_count {
                self.dead_letters.lock().expect("lock").push(message);
            } else {
                message.due = self.clock.now() + VISIBILITY_TIMEOUT;
                self.waiting.lock().expect("lock").push(message);
            }
        }
        Ok(())
    }

    async fn publish_changes(&self) -> anyhow::Result<()> {
        let changes = self.handles.table.take_changes();
        self.changes.publish(&changes).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use tel_core::domain::{DefinitionRef, TaskDefinition, TaskStatus};
    use tel_runners::javascript::JavascriptRunner;

    fn pipeline() -> InProcessPipeline {
        InProcessPipeline::new(
            Settings::default(),
            tel_engine::metrics::Metrics::new(tel_engine::metrics::Discard),
            |_| {
                Runners::default().with(Arc::new(JavascriptRunner {
                    max_memory_bytes: 32 << 20,
                    max_stack_bytes: 512 << 10,
                }))
            },
        )
    }

    fn request(definition: &str, input: serde_json::Value) -> ExecutionRequest {
        ExecutionRequest {
            task_instance_id: None,
            definition: DefinitionRef::parse(definition).unwrap(),
            workflow_instance_id: "wf".into(),
            step_id: "s".into(),
            input,
            input_ref: None,
            priority: 0,
            context: serde_json::Value::Null,
            task_token: None,
            traceparent: None,
            callback_envelope: false,
        }
    }

    #[tokio::test]
    async fn a_task_flows_through_every_stage_and_announces_each_event() {
        let p = pipeline();
        let def = TaskDefinition::parse(json!({
            "name": "double", "type": "automated",
            "implementation": { "kind": "javascript", "source": "export default (i) => ({ n: i.n * 2 })" },
            "inputSchema": { "type": "object", "required": ["n"] }
        }))
        .unwrap();
        p.engine.definitions().register(def).await.unwrap();
        let task = p.run(request("double", json!({ "n": 4 }))).await.unwrap();
        assert_eq!(task.status, TaskStatus::Completed);
        assert_eq!(task.output, Some(json!({ "n": 8 })));
        let types: Vec<String> = p
            .publisher
            .take()
            .into_iter()
            .map(|e| e.detail_type)
            .collect();
        assert_eq!(
            types,
            vec!["task.created", "task.started", "task.completed"]
        );

        let rejected = p.run(request("double", json!({}))).await.unwrap();
        assert_eq!(rejected.status, TaskStatus::Failed);
        assert_eq!(rejected.error.unwrap().code, "VALIDATION_ERROR");
    }

    #[tokio::test]
    async fn handler_invocations_emit_valid_emf_with_the_declared_metrics() {
        use tel_engine::metrics::{Metrics, Recorded};
        let recorded = Arc::new(Recorded::default());
        let p = InProcessPipeline::new(Settings::default(), Metrics::new(recorded.clone()), |_| {
            Runners::default().with(Arc::new(JavascriptRunner {
                max_memory_bytes: 32 << 20,
                max_stack_bytes: 512 << 10,
            }))
        });
        let def = TaskDefinition::parse(json!({
            "name": "double", "type": "automated",
            "implementation": { "kind": "javascript", "source": "export default (i) => ({ n: i.n * 2 })" },
            "inputSchema": { "type": "object", "required": ["n"] }
        }))
        .unwrap();
        p.engine.definitions().register(def).await.unwrap();
        let done = p.run(request("double", json!({ "n": 4 }))).await.unwrap();
        p.run(request("double", json!({}))).await.unwrap();

        let mut seen: std::collections::HashMap<String, Vec<String>> = Default::default();
        for line in recorded.lines() {
            let v: serde_json::Value =
                serde_json::from_str(&line).expect("one JSON object per line");
            assert!(v["_aws"]["Timestamp"].is_i64(), "{line}");
            let directive = &v["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(directive["Namespace"], "tel");
            let dimensions: Vec<String> = directive["Dimensions"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_owned())
                .collect();
            for d in &dimensions {
                let value = v[d]
                    .as_str()
                    .unwrap_or_else(|| panic!("dimension {d} has a value: {line}"));
                assert_ne!(
                    value,
                    done.task_instance_id.to_string(),
                    "no task ids as dimensions"
                );
                assert_ne!(
                    value, done.workflow_instance_id,
                    "no workflow ids as dimensions"
                );
            }
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(v[name].is_number(), "{name} has a value: {line}");
                assert!(
                    ["Milliseconds", "Count", "Megabytes"]
                        .contains(&metric["Unit"].as_str().unwrap())
                );
                seen.insert(name.to_owned(), dimensions.clone());
            }
        }
        let expect = [
            ("TasksCreated", vec!["TaskType"]),
            (
                "ExecutionTime",
                vec!["TaskType", "Implementation", "Outcome"],
            ),
            ("Attempts", vec!["TaskType", "Implementation", "Outcome"]),
            ("TasksCompleted", vec!["TaskType"]),
            ("TaskDuration", vec!["TaskType"]),
            ("TasksFailed", vec!["TaskType", "ErrorCode"]),
            ("MemoryHighWater", vec!["Function"]),
        ];
        for (metric, dimensions) in expect {
            assert_eq!(
                seen.get(metric),
                Some(
                    &dimensions
                        .iter()
                        .map(|d| (*d).to_owned())
                        .collect::<Vec<_>>()
                ),
                "{metric}"
            );
        }
    }
}
