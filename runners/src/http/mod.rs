//! The `http` runner: integration tasks. It builds the request from the task
//! with the definition's mapping, authenticates with credentials read by
//! reference at call time (`auth`), calls through an SSRF-guarded client
//! (`transport`), sorts failures into retryable and not (`classify`), feeds
//! the integration's circuit breaker and announces its changes (`circuit`),
//! and builds the output from the response. Here: the runner, its
//! integration cache and its admission (breaker, rate, concurrency pools).

mod auth;
mod circuit;
mod classify;
mod failure;
mod resolver;
mod transport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Admission, RunError, RunJob, Runner};
pub use classify::retry_after;
use failure::Failure;
use tel_core::clock::Clock;
use tel_core::domain::mapping::{RequestSpec, ResponseSpec};
use tel_core::domain::task_error::{EXECUTION_ERROR, INTEGRATION_ERROR};
use tel_core::domain::{DefinitionRef, Implementation, TaskError};
use tel_core::integrations::Integration;
use tel_core::ports::{
    BreakerStore, ConcurrencySlots, EventPublisher, IntegrationStore, SecretSource,
};

/// An integration looked up by reference is reused this long.
const INTEGRATION_CACHE: Duration = Duration::from_secs(30);

pub struct HttpRunner {
    integrations: Arc<dyn IntegrationStore>,
    breakers: Arc<dyn BreakerStore>,
    slots: Arc<dyn ConcurrencySlots>,
    secrets: Arc<dyn SecretSource>,
    publisher: Arc<dyn EventPublisher>,
    clock: Arc<dyn Clock>,
    known: Mutex<HashMap<String, (Arc<Integration>, Instant)>>,
    clients: Mutex<HashMap<String, reqwest::Client>>,
    tokens: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
    /// The Secrets Manager prefix integrations' secrets live under.
    secrets_prefix: String,
}

impl HttpRunner {
    pub fn new(
        integrations: Arc<dyn IntegrationStore>,
        breakers: Arc<dyn BreakerStore>,
        slots: Arc<dyn ConcurrencySlots>,
        secrets: Arc<dyn SecretSource>,
        publisher: Arc<dyn EventPublisher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            integrations,
            breakers,
            slots,
            secrets,
            publisher,
            clock,
            known: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            secrets_prefix: tel_core::integrations::DEFAULT_SECRETS_PREFIX.to_owned(),
        }
    }

    /// Integrations' secrets live under `prefix` (the deployment's
    /// `TEL_INTEGRATION_SECRETS_PREFIX`), each under its own name there.
    pub fn with_secrets_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.secrets_prefix = prefix.into();
        self
    }

    fn spec<'a>(
        job: &'a RunJob<'_>,
    ) -> Result<(&'a str, &'a RequestSpec, &'a ResponseSpec), Failure> {
        match &job.definition.implementation {
            Some(Implementation::Http {
                integration,
                request,
                response,
            }) => Ok((integration, request, response)),
            _ => Err(Failure::permanent(
                EXECUTION_ERROR,
                "not an http implementation".into(),
            )),
        }
    }

    async fn integration(&self, reference: &str) -> Result<Arc<Integration>, Failure> {
        if let Some((found, at)) = self
            .known
            .lock()
            .ok()
            .and_then(|k| k.get(reference).cloned())
            && at.elapsed() < INTEGRATION_CACHE
        {
            return Ok(found);
        }
        let parsed =
            DefinitionRef::parse(reference).map_err(|m| Failure::permanent(EXECUTION_ERROR, m))?;
        let found = self
            .integrations
            .get(&parsed)
            .await
            .map_err(|e| Failure {
                error: TaskError::new(INTEGRATION_ERROR, e.to_string()),
                retryable: true,
                retry_after: None,
                downstream: false,
            })?
            .ok_or_else(|| {
                Failure::permanent(
                    INTEGRATION_ERROR,
                    format!("no integration {reference} is registered"),
                )
            })?;
        let found = Arc::new(found);
        if let Ok(mut known) = self.known.lock() {
            known.insert(reference.to_owned(), (found.clone(), Instant::now()));
        }
        Ok(found)
    }
}

#[async_trait]
impl Runner for HttpRunner {
    fn kind(&self) -> &'static str {
        "http"
    }

    async fn admit(&self, job: &RunJob<'_>) -> Result<Admission, RunError> {
        let (reference, _, _) = Self::spec(job)?;
        let integration = self.integration(reference).await?;
        if let Some(wait) = self.pass_breaker(&integration).await? {
            return Ok(wait);
        }
        if let Some(rate) = integration.limits.rate_per_second {
            let now = self.clock.now();
            let allowed = self
                .slots
                .take_rate(
                    &format!("integration:{}", integration.name),
                    now.timestamp(),
                    rate,
                )
                .await
                .map_err(|e| {
                    RunError::retryable(TaskError::new(INTEGRATION_ERROR, e.to_string()))
                })?;
            if !allowed {
                let rest_of_second = 1000 - u64::from(now.timestamp_subsec_millis()).min(999);
                let reason = format!(
                    "{rate} calls per second to {} already started",
                    integration.name
                );
                return Ok(Admission::Wait {
                    delay: Duration::from_millis(rest_of_second),
                    reason,
                });
            }
        }
        let pools = integration
            .limits
            .max_concurrent
            .map(|max| (format!("integration:{}", integration.name), max))
            .into_iter()
            .collect();
        Ok(Admission::Go { pools })
    }

    async fn run(&self, job: RunJob<'_>) -> Result<Value, RunError> {
        let (reference, _, _) = Self::spec(&job)?;
        let integration = self.integration(reference).await?;
        let outcome = self.call(&job, &integration).await;
        let downstream_failed = matches!(&outcome, Err(f) if f.downstream);
        self.record(&integration, downstream_failed).await;
        outcome.map_err(RunError::from)
    }
}
