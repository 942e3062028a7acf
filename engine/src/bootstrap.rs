//! Building everything a function needs, once per cold start.

use std::sync::Arc;

use tel_aws::SdkConfig;

use crate::config::Config;
use crate::{EngineBuilder, TaskEngine};

/// The SDK configuration from the standard chain; `AWS_ENDPOINT_URL` points
/// every client at an emulator.
pub async fn sdk_config() -> SdkConfig {
    tel_aws::load_config().await
}

/// The task engine over AWS, as every function builds it at cold start.
pub fn engine(sdk: &SdkConfig, config: &Config) -> TaskEngine {
    EngineBuilder::aws(sdk, config).build()
}

/// Configuration and the engine from the environment, for a function's `main`.
pub async fn from_env() -> anyhow::Result<(SdkConfig, Arc<TaskEngine>)> {
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let engine = Arc::new(engine(&sdk, &config));
    Ok((sdk, engine))
}
