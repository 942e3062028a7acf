//! The `system` runner: named built-in functions. Each declares the
//! permissions it needs; the definition must grant them and the deployment
//! must allow them (least privilege from both sides), else `PERMISSION_DENIED`.

mod builtins;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{RunError, RunJob, Runner};
use tel_core::domain::task_error::{EXECUTION_ERROR, PERMISSION_DENIED};
use tel_core::domain::{Implementation, TaskError};
use tel_core::ports::{EventPublisher, QueueSender};

pub use builtins::{HashSha256, JsonTransform, PublishEvent, SendToQueue, TimeNow, UuidV7};

pub const EVENTS_PUBLISH: &str = "events:publish";
pub const QUEUE_SEND: &str = "queue:send";

#[async_trait]
pub trait SystemFunction: Send + Sync {
    fn name(&self) -> &'static str;
    /// What the function needs granted before it may run.
    fn permissions(&self) -> &'static [&'static str];
    async fn call(&self, input: &Value, config: &Value) -> Result<Value, RunError>;
}

pub struct SystemRunner {
    functions: HashMap<&'static str, Arc<dyn SystemFunction>>,
    allowed_by_deployment: Vec<String>,
}

impl SystemRunner {
    pub fn new(allowed_by_deployment: Vec<String>) -> Self {
        Self {
            functions: HashMap::new(),
            allowed_by_deployment,
        }
    }

    pub fn with(mut self, function: Arc<dyn SystemFunction>) -> Self {
        self.functions.insert(function.name(), function);
        self
    }

    /// Every built-in, wired to this deployment's bus, queues and clock.
    pub fn standard(
        allowed_by_deployment: Vec<String>,
        publisher: Arc<dyn EventPublisher>,
        queues: Arc<dyn QueueSender>,
        allowed_queues: Vec<String>,
        clock: Arc<dyn tel_core::clock::Clock>,
    ) -> Self {
        Self::new(allowed_by_deployment)
            .with(Arc::new(TimeNow { clock }))
            .with(Arc::new(UuidV7))
            .with(Arc::new(HashSha256))
            .with(Arc::new(JsonTransform))
            .with(Arc::new(PublishEvent { publisher }))
            .with(Arc::new(SendToQueue {
                queues,
                allowed_queues,
            }))
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.functions.keys().copied().collect();
        names.sort_unstable();
        names
    }
}

#[async_trait]
impl Runner for SystemRunner {
    fn kind(&self) -> &'static str {
        "system"
    }

    async fn run(&self, job: RunJob<'_>) -> Result<Value, RunError> {
        let Some(Implementation::System {
            function,
            permissions,
            config,
        }) = &job.definition.implementation
        else {
            return Err(RunError::permanent(TaskError::new(
                EXECUTION_ERROR,
                "not a system implementation",
            )));
        };
        let Some(f) = self.functions.get(function.as_str()) else {
            return Err(RunError::permanent(
                TaskError::new(
                    EXECUTION_ERROR,
                    format!("there is no system function `{function}`"),
                )
                .with_details(json!({ "available": self.names() })),
            ));
        };
        let missing: Vec<&str> = f
            .permissions()
            .iter()
            .copied()
            .filter(|p| {
                !permissions.iter().any(|g| g == p)
                    || !self.allowed_by_deployment.iter().any(|a| a == p)
            })
            .collect();
        if !missing.is_empty() {
            return Err(RunError::permanent(
                TaskError::new(
                    PERMISSION_DENIED,
                    format!("system function `{function}` needs {} granted by the definition and allowed by the deployment", missing.join(", ")),
                )
                .with_details(json!({
                    "required": f.permissions(),
                    "grantedByDefinition": permissions,
                    "allowedByDeployment": self.allowed_by_deployment,
                })),
            ));
        }
        tokio::time::timeout(job.timeout, f.call(&job.task.input, config))
            .await
            .unwrap_or_else(|_| {
                Err(RunError::retryable(TaskError::new(
                    tel_core::domain::task_error::TIMEOUT,
                    format!("system function `{function}` timed out"),
                )))
            })
    }
}
