//! The runner port: how an attempt of an automated task is carried out. The
//! executor picks a runner by the implementation's `kind`; the runners
//! themselves (JavaScript, system functions, Lambda, HTTP) are `tel-runners`,
//! and new kinds (remote sandboxes, containers) plug in without touching the
//! pipeline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::domain::task_error::EXECUTION_ERROR;
use crate::domain::{TaskDefinition, TaskError, TaskInstance};

/// One attempt to run.
pub struct RunJob<'a> {
    pub task: &'a TaskInstance,
    pub definition: &'a TaskDefinition,
    /// Wall-clock budget of the attempt (the definition's timeout, capped by the deployment).
    pub timeout: Duration,
}

/// Why an attempt failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq)]
pub struct RunError {
    pub error: TaskError,
    pub retryable: bool,
    /// A delay the failure itself asks for (e.g. a downstream's Retry-After).
    pub retry_after: Option<Duration>,
}

impl RunError {
    pub fn retryable(error: TaskError) -> Self {
        Self {
            error,
            retryable: true,
            retry_after: None,
        }
    }

    pub fn permanent(error: TaskError) -> Self {
        Self {
            error,
            retryable: false,
            retry_after: None,
        }
    }
}

/// Whether an attempt may start now.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Start, holding a slot in each of these concurrency pools (name, size) for the attempt.
    Go { pools: Vec<(String, u32)> },
    /// Not now (a downstream's circuit is open): the task waits, not failed, not an attempt.
    Wait { delay: Duration, reason: String },
}

#[async_trait]
pub trait Runner: Send + Sync {
    /// The implementation kind this runner serves (`javascript`, `system`, `lambda`, `http`).
    fn kind(&self) -> &'static str;

    /// Asked before an attempt starts; most runners always say go.
    async fn admit(&self, _job: &RunJob<'_>) -> Result<Admission, RunError> {
        Ok(Admission::Go { pools: Vec::new() })
    }

    async fn run(&self, job: RunJob<'_>) -> Result<Value, RunError>;
}

/// The runners of one executor, by kind.
#[derive(Default, Clone)]
pub struct Runners {
    by_kind: HashMap<&'static str, Arc<dyn Runner>>,
}

impl Runners {
    pub fn with(mut self, runner: Arc<dyn Runner>) -> Self {
        self.by_kind.insert(runner.kind(), runner);
        self
    }

    /// The runner of one kind (`http` for the notifier's webhook posts).
    pub fn get(&self, kind: &str) -> Option<Arc<dyn Runner>> {
        self.by_kind.get(kind).cloned()
    }

    pub async fn admit(&self, job: &RunJob<'_>) -> Result<Admission, RunError> {
        match job
            .definition
            .implementation
            .as_ref()
            .and_then(|i| self.by_kind.get(i.kind()))
        {
            Some(runner) => runner.admit(job).await,
            None => Ok(Admission::Go { pools: Vec::new() }),
        }
    }

    pub async fn run(&self, job: RunJob<'_>) -> Result<Value, RunError> {
        let Some(implementation) = &job.definition.implementation else {
            return Err(RunError::permanent(TaskError::new(
                EXECUTION_ERROR,
                "the definition has no implementation to run",
            )));
        };
        match self.by_kind.get(implementation.kind()) {
            Some(runner) => runner.run(job).await,
            None => Err(RunError::permanent(TaskError::new(
                EXECUTION_ERROR,
                format!(
                    "this executor has no runner for `{}` implementations",
                    implementation.kind()
                ),
            ))),
        }
    }
}
