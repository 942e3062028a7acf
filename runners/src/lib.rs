//! tel's runners: how an attempt of an automated task is carried out — a
//! JavaScript sandbox (QuickJS), the built-in system functions, an AWS Lambda
//! function (its adapter, `LambdaRunner`, lives in tel-aws with the other AWS
//! code), an HTTP integration. They implement `tel_core::ports::Runner`;
//! only the executor (and the local harness) links this crate, so no other
//! function carries a JavaScript engine or an HTTP client.

// Task errors carry their JSON details by value (serde_json's ordered map
// makes `Value` large); they travel on failure paths only.
#![allow(clippy::result_large_err)]

pub mod http;
pub mod javascript;
pub mod system;

use std::sync::Arc;

use tel_aws::SdkConfig;
use tel_engine::TaskEngine;

pub use tel_core::ports::runner::{Admission, RunError, RunJob, Runner, Runners};

use http::HttpRunner;
use javascript::JavascriptRunner;
use system::SystemRunner;

/// How long a secret read from Secrets Manager is reused: rotation is seen within this.
const SECRET_CACHE: std::time::Duration = std::time::Duration::from_secs(300);

/// Every runner the executor offers.
pub fn standard(sdk: &SdkConfig, engine: &TaskEngine) -> Runners {
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
        .with(Arc::new(tel_aws::clients::lambda_runner(sdk)))
        .with(Arc::new(http_runner(sdk, engine)))
}

/// The HTTP runner alone: integration calls, and the webhook posts of
/// notifications (the notifier's only runner).
pub fn http_runner(sdk: &SdkConfig, engine: &TaskEngine) -> HttpRunner {
    HttpRunner::new(
        engine.integrations().clone(),
        engine.breakers().clone(),
        engine.slots().clone(),
        Arc::new(tel_aws::clients::secrets(sdk, SECRET_CACHE)),
        engine.publisher().clone(),
        engine.clock().clone(),
    )
    .with_secrets_prefix(engine.settings().integration_secrets_prefix.clone())
}
