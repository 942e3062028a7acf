//! Test support: a fresh stack per test on the emulator at `AWS_ENDPOINT_URL`,
//! a queue subscribed to the stack's bus to observe events, and the local
//! runner to drive the pipeline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use serde_json::Value;
use tel_core::domain::{TaskDefinition, TaskInstance, TaskInstanceId};
use tel_engine::config::Settings;
use tel_engine::{EngineBuilder, TaskEngine};
use tel_local::event_tap::LIFECYCLE_PATTERN;
use tel_local::{EventTap, LocalRunner, LocalStack, RunnerOptions, Template, provision};
use tokio::time::Instant;

pub mod api;
pub mod deployed;
pub mod fake_service;
pub mod mail;
pub mod oidc_issuer;
pub mod probed_store;
pub mod weighing;

/// The emulator's endpoint; tests need it set (scripts/test does that).
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL must point at the emulator: run `localstack/emulator.sh start` or `scripts/test`")
}

/// Whether the emulator is LocalStack (it answers its health route; moto does not).
pub async fn on_localstack() -> bool {
    http_client()
        .get(format!("{}/_localstack/health", endpoint()))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

pub async fn sdk() -> SdkConfig {
    // Fixed dummy credentials: the emulator accepts anything, AWS is never reached.
    unsafe {
        std::env::set_var(
            "AWS_ACCESS_KEY_ID",
            std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into()),
        );
        std::env::set_var(
            "AWS_SECRET_ACCESS_KEY",
            std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into()),
        );
    }
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(tel_aws::clients::shared_https_client())
        .region(Region::new(
            std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        ))
        .endpoint_url(endpoint())
        .load()
        .await
}

/// An HTTP client for tests; rustls's provider is ring (tel_aws), installed first.
pub fn http_client() -> reqwest::Client {
    tel_aws::clients::install_crypto_provider();
    reqwest::Client::new()
}

pub fn random_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A stack of its own for one test.
pub struct TestStack {
    pub sdk: SdkConfig,
    pub stack: LocalStack,
    pub engine: Arc<TaskEngine>,
    /// The change-stream position, shared by every reader of this stack's
    /// stream (a runner's, `publish_events`), so no event is published twice.
    pub stream_checkpoint: std::path::PathBuf,
}

impl TestStack {
    /// Queues redeliver after 2 s and dead-letter after 3 receives, so failure paths are quick.
    pub async fn new() -> Result<Self> {
        Self::with(
            BTreeMap::from([
                ("VisibilityTimeoutSeconds".into(), "2".into()),
                ("MaxReceiveCount".into(), "3".into()),
            ]),
            Settings::default(),
        )
        .await
    }

    pub async fn with(overrides: BTreeMap<String, String>, settings: Settings) -> Result<Self> {
        init_logs();
        let sdk = sdk().await;
        let stack = provision(&sdk, &Template::embedded(), &random_name("t"), &overrides).await?;
        let config = stack.config_with(settings)?;
        let engine = Arc::new(EngineBuilder::aws(&sdk, &config).build());
        let dir = std::env::temp_dir().join("tel-tests");
        std::fs::create_dir_all(&dir)?;
        let stream_checkpoint = dir.join(format!("{}.stream.json", stack.stack_name));
        Ok(Self {
            sdk,
            stack,
            engine,
            stream_checkpoint,
        })
    }

    /// A fresh stack with `definitions` registered, a watcher of its bus
    /// subscribed, and the pipeline running: the setup most end-to-end tests
    /// share.
    pub async fn running(
        definitions: impl IntoIterator<Item = Value>,
    ) -> (Self, EventWatcher, LocalRunner) {
        let t = Self::new().await.expect("a fresh stack");
        for definition in definitions {
            t.register(definition)
                .await
                .expect("the definition registers");
        }
        let (events, runner) = t.run_watched().await;
        (t, events, runner)
    }

    /// A watcher of the bus subscribed, then the pipeline started: for a
    /// test that sets its stack up in its own way first.
    pub async fn run_watched(&self) -> (EventWatcher, LocalRunner) {
        let events = self.watch_events().await.expect("a watcher on the bus");
        let runner = self.run_pipeline().expect("the pipeline runs");
        (events, runner)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    /// The index key attributes (`GSI…`) on a task's item as stored, sorted:
    /// which of the table's indexes hold it.
    pub async fn index_keys(&self, id: TaskInstanceId) -> Result<Vec<String>> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let item = aws_sdk_dynamodb::Client::new(&self.sdk)
            .get_item()
            .table_name(&self.stack.table_name)
            .key("PK", AttributeValue::S(format!("TASK#{id}")))
            .key("SK", AttributeValue::S("TASK".into()))
            .consistent_read(true)
            .send()
            .await?
            .item
            .ok_or_else(|| anyhow::anyhow!("no item for task {id}"))?;
        let mut keys: Vec<String> = item.into_keys().filter(|k| k.starts_with("GSI")).collect();
        keys.sort();
        Ok(keys)
    }

    pub fn queue_url(&self, logical_id: &str) -> String {
        self.stack
            .queue(logical_id)
            .expect("queue in template")
            .url
            .clone()
    }

    /// Runs router, validator, executor and sweeper against this stack.
    /// The same engine with another clock: a sweeper that lives later.
    pub fn engine_at(&self, clock: Arc<dyn tel_core::clock::Clock>) -> Arc<TaskEngine> {
        Arc::new(self.engine.rebuild().clock(clock).build())
    }

    pub fn run_pipeline(&self) -> Result<LocalRunner> {
        let runners = tel_runners::standard(&self.sdk, &self.engine);
        self.run_pipeline_with(runners)
    }

    pub fn run_pipeline_with(
        &self,
        runners: tel_core::ports::runner::Runners,
    ) -> Result<LocalRunner> {
        let options = RunnerOptions {
            pollers_per_function: 2,
            batch_size: 10,
            wait_seconds: 1,
            sweep_every: Duration::from_millis(500),
            stream_checkpoint: None,
            ui_url: Some("http://tel.test/ui/".into()),
            on_notice: None,
        };
        self.run_pipeline_as(runners, &options)
    }

    pub fn run_pipeline_as(
        &self,
        runners: tel_core::ports::runner::Runners,
        options: &RunnerOptions,
    ) -> Result<LocalRunner> {
        let options = RunnerOptions {
            stream_checkpoint: Some(self.stream_checkpoint.clone()),
            ..options.clone()
        };
        LocalRunner::start(
            &self.sdk,
            &self.stack,
            self.engine.clone(),
            runners,
            &options,
        )
    }

    /// Publishes the events of every write not yet published, as the
    /// publisher function would: for tests that change tasks without a
    /// runner (a sweeper on a moved clock, a transition applied by hand).
    pub async fn publish_events(&self) -> Result<()> {
        self.stream_reader(self.engine.publisher().clone())?
            .publish_pending()
            .await;
        Ok(())
    }

    /// A reader of this stack's change stream publishing to `bus`, sharing
    /// the stack's checkpoint.
    pub fn stream_reader(
        &self,
        bus: Arc<dyn tel_core::ports::EventPublisher>,
    ) -> Result<tel_local::stream_reader::StreamReader> {
        let arn = self
            .stack
            .table_stream_arn
            .as_deref()
            .context("the table has no stream")?;
        Ok(tel_local::stream_reader::StreamReader::new(
            &self.sdk,
            arn,
            tel_engine::handlers::ChangePublisher::new(bus).answering_steps(&self.engine),
        )
        .batches_of(&self.stack)
        .checkpoint(Some(self.stream_checkpoint.clone())))
    }

    pub async fn register(&self, definition: Value) -> Result<TaskDefinition> {
        let parsed =
            TaskDefinition::parse(definition).map_err(|e| anyhow::anyhow!(e.to_string()))?;
        Ok(self.engine.definitions().register(parsed).await?)
    }

    /// Sends raw message bodies to the requests queue in one batch.
    pub async fn send_requests(&self, bodies: &[String]) -> Result<()> {
        let messages = bodies
            .iter()
            .map(|b| tel_core::ports::OutgoingMessage {
                trace: None,
                body: b.clone(),
                delay_seconds: 0,
            })
            .collect();
        self.engine
            .queues()
            .send(&self.queue_url("RequestsQueue"), messages)
            .await?;
        Ok(())
    }

    /// A Secrets Manager secret (account-wide: name it under a prefix of the test's own).
    pub async fn create_secret(&self, name: &str, value: &str) -> Result<()> {
        aws_sdk_secretsmanager::Client::new(&self.sdk)
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await?;
        Ok(())
    }

    pub async fn task(&self, id: TaskInstanceId) -> Result<TaskInstance> {
        self.engine.tasks().get(id).await?.context("task not found")
    }

    /// A task's history, oldest first (it is stored with the task).
    pub async fn history(&self, id: TaskInstanceId) -> Result<Vec<tel_core::domain::HistoryEntry>> {
        Ok(self.task(id).await?.history)
    }

    /// Subscribes a fresh queue to every lifecycle event of this stack's bus.
    pub async fn watch_events(&self) -> Result<EventWatcher> {
        EventWatcher::subscribe(&self.sdk, &self.stack.event_bus_name, LIFECYCLE_PATTERN).await
    }
}

/// A queue subscribed to the bus through a rule: what a consumer sees.
pub struct EventWatcher {
    tap: EventTap,
    seen: Vec<Value>,
}

impl EventWatcher {
    pub async fn subscribe(sdk: &SdkConfig, bus: &str, pattern: &str) -> Result<Self> {
        let tap = EventTap::subscribe(sdk, bus, &random_name("watch"), pattern).await?;
        Ok(Self {
            tap,
            seen: Vec::new(),
        })
    }

    /// Reads whatever arrived, waiting up to `wait` for at least one more.
    pub async fn drain(&mut self, wait: Duration) -> Result<&[Value]> {
        let deadline = Instant::now() + wait;
        let before = self.seen.len();
        loop {
            let messages = self.tap.receive(0).await?;
            for event in &messages {
                conforms(event)?;
            }
            self.seen.extend(messages.iter().cloned());
            if (messages.is_empty() && self.seen.len() > before) || Instant::now() >= deadline {
                return Ok(&self.seen);
            }
            if messages.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Waits for the first event (envelope) that matches.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.seen.iter().find(|e| matches(e)) {
                return Ok(found.clone());
            }
            if Instant::now() >= deadline {
                let types: Vec<String> = self
                    .seen
                    .iter()
                    .map(|e| format!("{} {}", e["detail-type"], e["detail"]["taskInstanceId"]))
                    .collect();
                bail!("no matching event within {timeout:?}; saw {types:?}");
            }
            self.drain(Duration::from_millis(300)).await?;
        }
    }

    /// Waits for `detail-type` about `task` (or about any task when `None`).
    pub async fn wait_for_type(
        &mut self,
        detail_type: &str,
        task: Option<&str>,
        timeout: Duration,
    ) -> Result<Value> {
        self.wait_for(timeout, |e| {
            e["detail-type"] == detail_type
                && task.is_none_or(|t| e["detail"]["taskInstanceId"] == t)
        })
        .await
    }

    /// Every event seen so far.
    pub fn seen(&self) -> &[Value] {
        &self.seen
    }

    pub fn count(&self, detail_type: &str, task: &str) -> usize {
        self.seen
            .iter()
            .filter(|e| e["detail-type"] == detail_type && e["detail"]["taskInstanceId"] == task)
            .count()
    }
}

/// The AsyncAPI document's schemas, compiled once for every watcher.
static CONTRACT: std::sync::LazyLock<tel_engine::contract::EventContract> =
    std::sync::LazyLock::new(tel_engine::contract::EventContract::new);

/// Holds every event tel publishes to the AsyncAPI document: each test that
/// watches the bus (or the in-process pipeline's publisher) checks what the
/// pipeline emitted in it.
pub fn conforms(event: &Value) -> Result<()> {
    if event["source"] != tel_core::domain::EVENT_SOURCE {
        return Ok(());
    }
    let detail_type = event["detail-type"].as_str().unwrap_or_default();
    CONTRACT
        .check(detail_type, &event["detail"])
        .map_err(|e| anyhow::anyhow!("an event breaks the AsyncAPI contract: {e}\n{event}"))
}

/// A task of `def` as a router records it (for tests that store tasks
/// directly, in a state a crash would leave them in).
pub fn new_task(def: &tel_core::domain::TaskDefinition) -> tel_core::domain::NewTask {
    tel_core::domain::NewTask {
        task_instance_id: TaskInstanceId::new(),
        definition_name: def.name.to_string(),
        definition_version: def.version,
        task_type: Some(def.task_type),
        workflow_instance_id: "wf".into(),
        step_id: "s".into(),
        input: serde_json::json!({ "n": 3 }),
        context: Value::Null,
        priority: 0,
        trace_id: None,
        requested_by: None,
        callback: None,
    }
}

/// An ASSIGNED task of `def`, as the manual-assign function leaves it.
pub fn assigned_task(
    def: &tel_core::domain::TaskDefinition,
    assignee: tel_core::domain::Assignee,
) -> tel_core::domain::TaskInstance {
    use tel_core::domain::{Action, Creation};
    let now = chrono::Utc::now();
    Creation::new(new_task(def), now, now + chrono::Duration::minutes(5))
        .then(
            Action::Assign {
                assignee,
                due_at: None,
                schedule: None,
                escalated: false,
                by: None,
            },
            now,
        )
        .expect("a new task may be assigned")
        .task
}

/// An ASSIGNED task of `def`, written straight to the store.
pub async fn store_assigned(
    t: &TestStack,
    def: &tel_core::domain::TaskDefinition,
    assignee: tel_core::domain::Assignee,
) -> tel_core::domain::TaskInstance {
    let task = assigned_task(def, assignee);
    t.engine
        .tasks()
        .create(&task)
        .await
        .expect("the task is stored");
    task
}

/// An execution request body.
pub fn request(definition: &str, input: Value) -> Value {
    serde_json::json!({
        "taskInstanceId": TaskInstanceId::new().to_string(),
        "taskDefinitionId": definition,
        "workflowInstanceId": random_name("wf"),
        "stepId": "step-1",
        "input": input,
    })
}

/// Stores `waiting` tasks with a deadline an hour away and `due` tasks whose
/// deadline has passed, as a router would leave them; returns the due tasks' ids.
pub async fn store_waiting_and_due(
    t: &TestStack,
    waiting: usize,
    due: usize,
) -> Result<Vec<TaskInstanceId>> {
    use futures::StreamExt;
    let now = chrono::Utc::now();
    let creations: Vec<tel_core::domain::Creation> = (0..waiting + due)
        .map(|i| {
            let deadline = if i < due {
                now - chrono::Duration::seconds(1)
            } else {
                now + chrono::Duration::hours(1)
            };
            let new = tel_core::domain::NewTask {
                task_instance_id: TaskInstanceId::new(),
                definition_name: "double".into(),
                definition_version: 1,
                task_type: None,
                workflow_instance_id: format!("wf-{i}"),
                step_id: "s".into(),
                input: serde_json::json!({}),
                context: Value::Null,
                priority: 0,
                trace_id: None,
                requested_by: None,
                callback: None,
            };
            tel_core::domain::Creation::new(new, now, deadline)
        })
        .collect();
    let due_ids = creations[..due]
        .iter()
        .map(|c| c.task.task_instance_id)
        .collect();
    futures::stream::iter(
        creations.into_iter().map(|creation| async move {
            t.engine.tasks().create(&creation.task).await.map(|_| ())
        }),
    )
    .buffer_unordered(16)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect::<Result<Vec<()>, _>>()?;
    Ok(due_ids)
}

/// Two manual definitions with every timed feature: `approve` (a reminder at
/// 60 s, escalation to the user `cfo` at 120 s, due at 300 s, failed when
/// due) and `approve-by-default` (due at 30 s, completed then with a default
/// output).
pub fn timed_approvals() -> [Value; 2] {
    let manual = |name: &str, manual: Value| serde_json::json!({ "name": name, "type": "manual", "manual": manual, "outputSchema": { "type": "object" } });
    [
        manual(
            "approve",
            serde_json::json!({
                "assignment": { "strategy": "group", "id": "finance" },
                "dueInSeconds": 300,
                "reminders": [60],
                "escalation": [{ "afterSeconds": 120, "to": { "type": "USER", "id": "cfo" } }],
                "onDue": { "action": "fail" }
            }),
        ),
        manual(
            "approve-by-default",
            serde_json::json!({ "assignment": { "strategy": "user", "id": "bob" }, "dueInSeconds": 30, "onDue": { "action": "complete", "output": { "approved": true, "by": "default" } } }),
        ),
    ]
}

/// Every record of a table's change stream (after `after`, a sequence
/// number, or from the start), across its shards, as tel reads them.
pub async fn stream_records(
    sdk: &SdkConfig,
    stream_arn: &str,
    after: Option<String>,
) -> Result<Vec<tel_aws::dynamo::stream::StreamRecord>> {
    use aws_sdk_dynamodbstreams::types::ShardIteratorType;
    let streams = aws_sdk_dynamodbstreams::Client::new(sdk);
    let described = streams
        .describe_stream()
        .stream_arn(stream_arn)
        .send()
        .await?;
    let mut records = Vec::new();
    for shard in described
        .stream_description()
        .map(|d| d.shards().to_vec())
        .unwrap_or_default()
    {
        let request = streams
            .get_shard_iterator()
            .stream_arn(stream_arn)
            .shard_id(shard.shard_id().unwrap_or_default());
        let request = match &after {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let mut iterator = request.send().await?.shard_iterator;
        while let Some(current) = iterator {
            let out = streams.get_records().shard_iterator(current).send().await?;
            let batch = out.records.unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            records.extend(
                batch
                    .into_iter()
                    .filter_map(tel_aws::dynamo::stream::StreamRecord::from_streams_api),
            );
            iterator = out.next_shard_iterator;
        }
    }
    Ok(records)
}

/// The versions each write of task `id` left, in the order of its change stream.
pub async fn written_versions(t: &TestStack, id: &TaskInstanceId) -> Vec<u64> {
    let arn = t.stack.table_stream_arn.as_deref().expect("a stream");
    stream_records(&t.sdk, arn, None)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|record| record.task_change())
        .map(Result::unwrap)
        .filter(|change| &change.task.task_instance_id == id)
        .map(|change| change.task.version)
        .collect()
}
