//! The built-in system functions.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tel_core::clock::Clock;

use super::{EVENTS_PUBLISH, QUEUE_SEND, SystemFunction};
use crate::RunError;
use tel_core::domain::TaskError;
use tel_core::domain::task_error::{CONFIGURATION_ERROR, EXECUTION_ERROR};
use tel_core::ports::{
    BusEvent, EventPublisher, OutgoingMessage, PublishError, QueueError, QueueSender,
};

fn bad_input(message: impl Into<String>) -> RunError {
    RunError::permanent(TaskError::new(EXECUTION_ERROR, message))
}

/// `time.now` → `{ iso, epochMillis }`, from the engine's clock.
pub struct TimeNow {
    pub clock: Arc<dyn Clock>,
}

#[async_trait]
impl SystemFunction for TimeNow {
    fn name(&self) -> &'static str {
        "time.now"
    }
    fn permissions(&self) -> &'static [&'static str] {
        &[]
    }
    async fn call(&self, _input: &Value, _config: &Value) -> Result<Value, RunError> {
        let now = self.clock.now();
        Ok(json!({ "iso": now.to_rfc3339(), "epochMillis": now.timestamp_millis() }))
    }
}

/// `uuid.v7` → `{ uuid }`, time-sortable.
pub struct UuidV7;

#[async_trait]
impl SystemFunction for UuidV7 {
    fn name(&self) -> &'static str {
        "uuid.v7"
    }
    fn permissions(&self) -> &'static [&'static str] {
        &[]
    }
    async fn call(&self, _input: &Value, _config: &Value) -> Result<Value, RunError> {
        Ok(json!({ "uuid": uuid::Uuid::now_v7().to_string() }))
    }
}

/// `hash.sha256`: hashes `input.data` (a string as UTF-8, anything else as
/// its JSON text) → `{ sha256 }` in lower-case hex.
pub struct HashSha256;

#[async_trait]
impl SystemFunction for HashSha256 {
    fn name(&self) -> &'static str {
        "hash.sha256"
    }
    fn permissions(&self) -> &'static [&'static str] {
        &[]
    }
    async fn call(&self, input: &Value, _config: &Value) -> Result<Value, RunError> {
        let data = match input.get("data") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => return Err(bad_input("hash.sha256 needs `data` in its input")),
        };
        Ok(json!({ "sha256": hex::encode(Sha256::digest(data.as_bytes())) }))
    }
}

/// `json.transform`: builds the output from the input with JSON pointers.
/// `config.mapping` maps output fields to pointers (`{"total": "/order/total"}`);
/// `config.defaults` gives values for pointers that match nothing, which
/// otherwise fail the task.
pub struct JsonTransform;

#[async_trait]
impl SystemFunction for JsonTransform {
    fn name(&self) -> &'static str {
        "json.transform"
    }
    fn permissions(&self) -> &'static [&'static str] {
        &[]
    }
    async fn call(&self, input: &Value, config: &Value) -> Result<Value, RunError> {
        let Some(mapping) = config.get("mapping").and_then(Value::as_object) else {
            return Err(bad_input(
                "json.transform needs `config.mapping`: an object of output field to JSON pointer",
            ));
        };
        let defaults = config.get("defaults").and_then(Value::as_object);
        let mut out = Map::new();
        for (field, pointer) in mapping {
            let pointer = pointer.as_str().ok_or_else(|| {
                bad_input(format!(
                    "mapping of `{field}` must be a JSON pointer string"
                ))
            })?;
            let value = input
                .pointer(pointer)
                .or_else(|| defaults.and_then(|d| d.get(field)))
                .ok_or_else(|| {
                    bad_input(format!(
                        "pointer {pointer} (for `{field}`) matches nothing in the input"
                    ))
                })?;
            out.insert(field.clone(), value.clone());
        }
        Ok(Value::Object(out))
    }
}

/// Detail types `events.publish` refuses.
pub const RESERVED_DETAIL_TYPES: [&str; 2] = ["task.", "integration."];

/// `events.publish`: puts a custom event on the deployment's bus.
/// Input `{ detailType, detail }`; source `config.source` or `tel.custom`.
pub struct PublishEvent {
    pub publisher: Arc<dyn EventPublisher>,
}

#[async_trait]
impl SystemFunction for PublishEvent {
    fn name(&self) -> &'static str {
        "events.publish"
    }
    fn permissions(&self) -> &'static [&'static str] {
        &[EVENTS_PUBLISH]
    }
    async fn call(&self, input: &Value, config: &Value) -> Result<Value, RunError> {
        let detail_type = input
            .get("detailType")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad_input("events.publish needs a `detailType` string in its input"))?;
        let source = config
            .get("source")
            .and_then(Value::as_str)
            .unwrap_or("tel.custom");
        if source == tel_core::domain::EVENT_SOURCE {
            return Err(bad_input(format!(
                "the source `{source}` is reserved for lifecycle events"
            )));
        }
        // `task.*` is tel's own vocabulary (requests and lifecycle events),
        // `integration.*` its breakers': a task publishing `task.requested`
        // would start any definition through the bus, whoever may not.
        if let Some(reserved) = RESERVED_DETAIL_TYPES
            .iter()
            .find(|prefix| detail_type.starts_with(*prefix))
        {
            return Err(RunError::permanent(TaskError::new(
                tel_core::domain::task_error::PERMISSION_DENIED,
                format!(
                    "detail types starting {reserved:?} are reserved for tel; `{detail_type}` may not be published"
                ),
            )));
        }
        let event = BusEvent {
            source: source.to_owned(),
            detail_type: detail_type.to_owned(),
            detail: input
                .get("detail")
                .cloned()
                .unwrap_or_else(|| json!({}))
                .to_string(),
        };
        match self.publisher.publish(&[event]).await {
            Ok(()) => Ok(json!({ "published": true, "source": source, "detailType": detail_type })),
            Err(PublishError::Rejected(m)) => Err(bad_input(m)),
            Err(e @ PublishError::BusRefused { .. }) => Err(RunError::permanent(TaskError::new(
                CONFIGURATION_ERROR,
                e.to_string(),
            ))),
            Err(e) => Err(RunError::retryable(TaskError::new(
                EXECUTION_ERROR,
                e.to_string(),
            ))),
        }
    }
}

/// `queue.send`: sends `input.body` (any JSON) to `config.queueUrl`, which
/// the deployment must list in `TEL_ALLOWED_QUEUES`.
pub struct SendToQueue {
    pub queues: Arc<dyn QueueSender>,
    pub allowed_queues: Vec<String>,
}

#[async_trait]
impl SystemFunction for SendToQueue {
    fn name(&self) -> &'static str {
        "queue.send"
    }
    fn permissions(&self) -> &'static [&'static str] {
        &[QUEUE_SEND]
    }
    async fn call(&self, input: &Value, config: &Value) -> Result<Value, RunError> {
        let url = config
            .get("queueUrl")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_input("queue.send needs `config.queueUrl`"))?;
        if !self.allowed_queues.iter().any(|q| q == url) {
            return Err(RunError::permanent(TaskError::new(
                tel_core::domain::task_error::PERMISSION_DENIED,
                format!("queue {url} is not in the deployment's allowed queues"),
            )));
        }
        let body = match input.get("body") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => return Err(bad_input("queue.send needs `body` in its input")),
        };
        let delay_seconds = input
            .get("delaySeconds")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(900) as u32;
        match self
            .queues
            .send(
                url,
                vec![OutgoingMessage {
                    trace: None,
                    body,
                    delay_seconds,
                }],
            )
            .await
        {
            Ok(()) => Ok(json!({ "sent": true })),
            Err(QueueError::Rejected(m)) => Err(bad_input(m)),
            Err(e) => Err(RunError::retryable(TaskError::new(
                EXECUTION_ERROR,
                e.to_string(),
            ))),
        }
    }
}
