//! Building everything a function needs, once per cold start.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};

use crate::adapters::secrets_manager::SecretsManagerSource;
use crate::config::Config;
use crate::engine::{EngineBuilder, TaskEngine};
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

/// The task engine over AWS, as every function builds it at cold start.
pub fn engine(sdk: &SdkConfig, config: &Config) -> TaskEngine {
    EngineBuilder::aws(sdk, config).build()
}

/// Every runner the executor offers.
pub fn runners(sdk: &SdkConfig, engine: &TaskEngine) -> Runners {
    let settings = engine.settings();
    Runners::default()
        .with(Arc::new(JavascriptRunner {
            max_memory_bytes: settings.js_max_memory_bytes,
            max_stack_bytes: settings.js_max_stack_bytes,
        }))
        .with(Arc::new(SystemRunner::standard(
            settings.system_permissions.clone(),
            engine.publisher().clone(),
            engine.queues().clone(),
            settings.allowed_queues.clone(),
            engine.clock().clone(),
        )))
        .with(Arc::new(LambdaRunner::new(aws_sdk_lambda::Client::new(
            sdk,
        ))))
        .with(Arc::new(HttpRunner::new(
            engine.integrations().clone(),
            engine.breakers().clone(),
            engine.slots().clone(),
            Arc::new(SecretsManagerSource::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                SECRET_CACHE,
            )),
            engine.publisher().clone(),
            engine.clock().clone(),
        )))
}

/// Configuration and the engine from the environment, for a function's `main`.
pub async fn from_env() -> anyhow::Result<(SdkConfig, Arc<TaskEngine>)> {
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let engine = Arc::new(engine(&sdk, &config));
    Ok((sdk, engine))
}
