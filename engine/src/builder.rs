//! The one way a `TaskEngine` is put together: over AWS from the
//! configuration, over in-memory ports (`in_memory.rs`, for tests, benches
//! and the local harness only), and from an existing engine with one part
//! replaced.

use std::sync::Arc;

use super::TaskEngine;
use crate::config::{Config, QueueUrls, Settings};
use crate::definitions::DefinitionCache;
use crate::metrics::{Metrics, Stdout};
use tel_aws::s3::S3PayloadStore;
use tel_aws::step_functions::StepFunctionsCallbacks;
use tel_aws::{
    AwsClients, DynamoDefinitionStore, DynamoIntegrationStore, DynamoTaskStore,
    EventBridgePublisher, SdkConfig, SqsQueueSender,
};
use tel_core::clock::{Clock, SystemClock};
use tel_core::ports::{
    AssignmentState, BreakerStore, ConcurrencySlots, DeadLetterLog, DefinitionStore,
    EventPublisher, FigureStore, IntegrationStore, NoticeLedger, OperationStore, PayloadStore,
    PeopleStore, QueueSender, StepCallbacks, TaskStore,
};

/// Every port the table serves: one adapter usually implements them all.
pub trait TablePorts:
    TaskStore
    + AssignmentState
    + DeadLetterLog
    + ConcurrencySlots
    + BreakerStore
    + PeopleStore
    + NoticeLedger
    + OperationStore
    + FigureStore
    + 'static
{
}

impl<T> TablePorts for T where
    T: TaskStore
        + AssignmentState
        + DeadLetterLog
        + ConcurrencySlots
        + BreakerStore
        + PeopleStore
        + NoticeLedger
        + OperationStore
        + FigureStore
        + 'static
{
}

#[derive(Clone)]
pub struct EngineBuilder {
    tasks: Option<Arc<dyn TaskStore>>,
    assignment: Option<Arc<dyn AssignmentState>>,
    dead_letters: Option<Arc<dyn DeadLetterLog>>,
    slots: Option<Arc<dyn ConcurrencySlots>>,
    breakers: Option<Arc<dyn BreakerStore>>,
    people: Option<Arc<dyn PeopleStore>>,
    notices: Option<Arc<dyn NoticeLedger>>,
    operations: Option<Arc<dyn OperationStore>>,
    figures: Option<Arc<dyn FigureStore>>,
    integrations: Option<Arc<dyn IntegrationStore>>,
    definitions: Option<Arc<DefinitionCache>>,
    publisher: Option<Arc<dyn EventPublisher>>,
    queues: Option<Arc<dyn QueueSender>>,
    queue_urls: Option<QueueUrls>,
    metrics: Option<Arc<Metrics>>,
    settings: Settings,
    clock: Arc<dyn Clock>,
    payloads: Option<Arc<dyn PayloadStore>>,
    callbacks: Option<Arc<dyn StepCallbacks>>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            tasks: None,
            assignment: None,
            dead_letters: None,
            slots: None,
            breakers: None,
            people: None,
            notices: None,
            operations: None,
            figures: None,
            integrations: None,
            definitions: None,
            publisher: None,
            queues: None,
            queue_urls: None,
            metrics: None,
            settings: Settings::default(),
            clock: Arc::new(SystemClock),
            payloads: None,
            callbacks: None,
        }
    }
}

impl EngineBuilder {
    /// Every adapter over AWS, as a function builds it at cold start.
    pub fn aws(sdk: &SdkConfig, config: &Config) -> Self {
        let clients = AwsClients::new(sdk);
        let dynamo = clients.dynamo;
        let table = DynamoTaskStore::new(dynamo.clone(), &config.table_name)
            .with_deadline_shards(config.settings.deadline_shards)
            .with_history_format(config.settings.history_format);
        Self::default()
            .table(Arc::new(table))
            .definitions(Arc::new(DynamoDefinitionStore::new(
                dynamo.clone(),
                &config.table_name,
            )))
            .integrations(Arc::new(DynamoIntegrationStore::new(
                dynamo,
                &config.table_name,
            )))
            .publisher(Arc::new(EventBridgePublisher::new(
                clients.events,
                &config.event_bus_name,
            )))
            .queues(
                Arc::new(SqsQueueSender::new(clients.sqs)),
                config.queues.clone(),
            )
            .settings(config.settings.clone())
            .payloads(config.payload_bucket.as_ref().map(|bucket| {
                Arc::new(S3PayloadStore::new(clients.s3.clone(), bucket)) as Arc<dyn PayloadStore>
            }))
            .callbacks(Arc::new(StepFunctionsCallbacks::new(
                clients.step_functions,
            )))
    }

    pub(super) fn from_engine(engine: &TaskEngine) -> Self {
        Self {
            tasks: Some(engine.tasks.clone()),
            assignment: Some(engine.assignment.clone()),
            dead_letters: Some(engine.dead_letters.clone()),
            slots: Some(engine.slots.clone()),
            breakers: Some(engine.breakers.clone()),
            people: Some(engine.people.clone()),
            notices: Some(engine.notices.clone()),
            operations: Some(engine.operations.clone()),
            figures: Some(engine.figures.clone()),
            integrations: Some(engine.integrations.clone()),
            definitions: Some(engine.definitions.clone()),
            publisher: Some(engine.publisher.clone()),
            queues: Some(engine.queues.clone()),
            queue_urls: Some(engine.queue_urls.clone()),
            metrics: Some(engine.metrics.clone()),
            settings: engine.settings.clone(),
            clock: engine.clock.clone(),
            payloads: engine.payloads.clone(),
            callbacks: Some(engine.callbacks.clone()),
        }
    }

    /// The table's ports from one adapter.
    pub fn table<T: TablePorts>(mut self, table: Arc<T>) -> Self {
        self.tasks = Some(table.clone());
        self.assignment = Some(table.clone());
        self.dead_letters = Some(table.clone());
        self.slots = Some(table.clone());
        self.breakers = Some(table.clone());
        self.people = Some(table.clone());
        self.notices = Some(table.clone());
        self.operations = Some(table.clone());
        self.figures = Some(table);
        self
    }

    /// Only the task store (a probe around it, a store that fails on purpose).
    pub fn tasks(mut self, tasks: Arc<dyn TaskStore>) -> Self {
        self.tasks = Some(tasks);
        self
    }

    pub fn definitions(mut self, store: Arc<dyn DefinitionStore>) -> Self {
        self.definitions = Some(Arc::new(DefinitionCache::new(store)));
        self
    }

    pub fn integrations(mut self, store: Arc<dyn IntegrationStore>) -> Self {
        self.integrations = Some(store);
        self
    }

    pub fn publisher(mut self, publisher: Arc<dyn EventPublisher>) -> Self {
        self.publisher = Some(publisher);
        self
    }

    pub fn queues(mut self, queues: Arc<dyn QueueSender>, urls: QueueUrls) -> Self {
        self.queues = Some(queues);
        self.queue_urls = Some(urls);
        self
    }

    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(Arc::new(metrics));
        self
    }

    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where payloads over the threshold go (none: they stay inline).
    pub fn payloads(mut self, payloads: Option<Arc<dyn PayloadStore>>) -> Self {
        self.payloads = payloads;
        self
    }

    /// Who answers the orchestrator steps waiting on tasks.
    pub fn callbacks(mut self, callbacks: Arc<dyn StepCallbacks>) -> Self {
        self.callbacks = Some(callbacks);
        self
    }

    /// # Panics
    /// When a port was never given: a wiring mistake, found at cold start.
    pub fn build(self) -> TaskEngine {
        const MISSING: &str = "EngineBuilder: set the table, definitions, integrations, publisher, queues and callbacks (or start from `aws` or `in_memory`)";
        TaskEngine {
            tasks: self.tasks.expect(MISSING),
            assignment: self.assignment.expect(MISSING),
            dead_letters: self.dead_letters.expect(MISSING),
            slots: self.slots.expect(MISSING),
            breakers: self.breakers.expect(MISSING),
            people: self.people.expect(MISSING),
            notices: self.notices.expect(MISSING),
            operations: self.operations.expect(MISSING),
            figures: self.figures.expect(MISSING),
            integrations: self.integrations.expect(MISSING),
            definitions: self.definitions.expect(MISSING),
            publisher: self.publisher.expect(MISSING),
            queues: self.queues.expect(MISSING),
            queue_urls: self.queue_urls.expect(MISSING),
            metrics: self
                .metrics
                .unwrap_or_else(|| Arc::new(Metrics::new(Stdout))),
            settings: self.settings,
            clock: self.clock,
            payloads: self.payloads,
            callbacks: self.callbacks.expect(MISSING),
        }
    }
}
