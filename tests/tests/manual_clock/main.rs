//! Behaviour over time, on the in-process pipeline and a clock the test moves:
//! retries and their pacing, leases, whole-task budgets, reminders,
//! escalation and due times, the circuit breaker. Every handler and the
//! sweeper run as deployed, over in-memory ports; hours pass in milliseconds.
//! What only AWS can show (conditional writes racing, redelivery, the change
//! stream, a killed process) stays in the emulator tests.

mod breaker;
mod http_failures;
mod leases_and_budgets;
mod reminders;
mod retries;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use tel_core::domain::{TaskDefinition, TaskInstanceId};
use tel_core::integrations::Integration;
use tel_core::ports::runner::Runners;
use tel_core::ports::{SecretError, SecretSource};
use tel_engine::TaskEngine;
use tel_engine::config::Settings;
use tel_engine::metrics::{Discard, Metrics};
use tel_local::in_process::InProcessPipeline;
use tel_runners::http::HttpRunner;
use tel_runners::javascript::JavascriptRunner;

/// The JavaScript and HTTP runners over the pipeline's engine.
fn runners(engine: &TaskEngine) -> Runners {
    let settings = engine.settings();
    Runners::default()
        .with(Arc::new(JavascriptRunner {
            max_memory_bytes: settings.js_max_memory_bytes,
            max_stack_bytes: settings.js_max_stack_bytes,
        }))
        .with(Arc::new(HttpRunner::new(
            engine.integrations().clone(),
            engine.breakers().clone(),
            engine.slots().clone(),
            Arc::new(NoSecrets),
            engine.publisher().clone(),
            engine.clock().clone(),
        )))
}

/// These tests' integrations use no credentials.
struct NoSecrets;

#[async_trait]
impl SecretSource for NoSecrets {
    async fn secret(&self, reference: &str) -> Result<String, SecretError> {
        Err(SecretError::NotFound(reference.to_owned()))
    }
}

fn pipeline() -> InProcessPipeline {
    InProcessPipeline::new(Settings::default(), Metrics::new(Discard), runners)
}

async fn register(p: &InProcessPipeline, definition: Value) -> TaskDefinition {
    let parsed = TaskDefinition::parse(definition).unwrap_or_else(|e| panic!("{e}"));
    p.engine.definitions().register(parsed).await.unwrap()
}

async fn integration(p: &InProcessPipeline, spec: Value) {
    let parsed = Integration::parse(spec).unwrap_or_else(|e| panic!("{e}"));
    p.engine.integrations().register(parsed).await.unwrap();
}

/// Submits a request and delivers what is due now; returns the task's id.
async fn submit(p: &InProcessPipeline, definition: &str, input: Value) -> TaskInstanceId {
    let body = tel_tests::request(definition, input);
    p.submit(body.to_string());
    p.settle().await.unwrap();
    TaskInstanceId::parse(body["taskInstanceId"].as_str().unwrap()).unwrap()
}

/// Every event published so far, oldest first, each held to the AsyncAPI
/// document: (detail type, detail).
fn checked_events(p: &InProcessPipeline) -> Vec<(String, Value)> {
    p.events()
        .into_iter()
        .map(|e| {
            let detail: Value = serde_json::from_str(&e.detail).unwrap();
            let event = serde_json::json!({ "source": e.source, "detail-type": e.detail_type, "detail": detail });
            tel_tests::conforms(&event).unwrap_or_else(|why| panic!("{why}"));
            (e.detail_type, detail)
        })
        .collect()
}

/// The events published about a task, oldest first: (detail type, detail).
fn events_of(p: &InProcessPipeline, id: TaskInstanceId) -> Vec<(String, Value)> {
    checked_events(p)
        .into_iter()
        .filter(|(_, detail)| detail["taskInstanceId"] == id.to_string().as_str())
        .collect()
}

fn types_of(p: &InProcessPipeline, id: TaskInstanceId) -> Vec<String> {
    events_of(p, id).into_iter().map(|(kind, _)| kind).collect()
}

/// The last event of `kind` about the task.
fn last_event(p: &InProcessPipeline, id: TaskInstanceId, kind: &str) -> Value {
    events_of(p, id)
        .into_iter()
        .rev()
        .find(|(k, _)| k == kind)
        .map(|(_, detail)| detail)
        .unwrap_or_else(|| panic!("no {kind} for {id}: {:?}", types_of(p, id)))
}

fn seconds(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n)
}
