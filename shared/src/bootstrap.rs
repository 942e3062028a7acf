//! Building everything a function needs, once per cold start.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};

use crate::adapters::secrets_manager::SecretsManagerSource;
use crate::adapters::{
    DynamoDefinitionStore, DynamoIntegrationStore, DynamoTaskStore, EventBridgePublisher,
    SqsQueueSender,
};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::handlers::Services;
use crate::handlers::definitions::DefinitionCache;
use crate::runners::Runners;
use crate::runners::http::HttpRunner;
use crate::runners::javascript::JavascriptRunner;
use crate::runners::lambda::LambdaRunner;
use crate::runners::system::SystemRunner;

/// How long a secret read from Secrets Manager is reused: rotation is seen within this.
const SECRET_CACHE: std::time::Duration = std::time::Duration::from_secs(300);

/// The SDK configuration from the standard chain; `AWS_ENDPOINT_URL` points
/// every client at an emulator.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

pub fn services(sdk: &SdkConfig, config: &Config) -> Services {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let tasks = DynamoTaskStore::new(dynamo.clone(), &config.table_name)
        .with_deadline_shards(config.settings.deadline_shards)
        .with_outbox_grace(config.settings.outbox_grace);
    let definitions = DynamoDefinitionStore::new(dynamo.clone(), &config.table_name);
    let integrations = DynamoIntegrationStore::new(dynamo, &config.table_name);
    let tasks = Arc::new(tasks);
    Services {
        tasks: tasks.clone(),
        assignment: tasks.clone(),
        dead_letters: tasks.clone(),
        slots: tasks.clone(),
        breakers: tasks,
        integrations: Arc::new(integrations),
        metrics: Arc::new(crate::metrics::Metrics::new(crate::metrics::Stdout)),
        definitions: Arc::new(DefinitionCache::new(Arc::new(definitions))),
        publisher: Arc::new(EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(sdk),
            &config.event_bus_name,
        )),
        queues: Arc::new(SqsQueueSender::new(aws_sdk_sqs::Client::new(sdk))),
        queue_urls: config.queues.clone(),
        settings: config.settings.clone(),
        clock: Arc::new(SystemClock),
    }
}

/// Every runner the executor offers.
pub fn runners(sdk: &SdkConfig, services: &Services) -> Runners {
    let settings = &services.settings;
    Runners::default()
        .with(Arc::new(JavascriptRunner {
            max_memory_bytes: settings.js_max_memory_bytes,
            max_stack_bytes: settings.js_max_stack_bytes,
        }))
        .with(Arc::new(SystemRunner::standard(
            settings.system_permissions.clone(),
            services.publisher.clone(),
            services.queues.clone(),
            settings.allowed_queues.clone(),
        )))
        .with(Arc::new(LambdaRunner::new(aws_sdk_lambda::Client::new(
            sdk,
        ))))
        .with(Arc::new(HttpRunner::new(
            services.integrations.clone(),
            services.breakers.clone(),
            services.slots.clone(),
            Arc::new(SecretsManagerSource::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                SECRET_CACHE,
            )),
            services.publisher.clone(),
            services.clock.clone(),
        )))
}

/// Configuration and services from the environment, for a function's `main`.
pub async fn from_env() -> anyhow::Result<(SdkConfig, Arc<Services>)> {
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let services = Arc::new(services(&sdk, &config));
    Ok((sdk, services))
}
