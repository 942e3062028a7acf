//! The JSON Schemas of what crosses tel's boundary: the execution request
//! (on the queue, on the bus, through the API) and the events tel publishes.
//! Written once, here, beside the types they describe; the AsyncAPI document
//! and the OpenAPI document both take them from here, and tests hold the
//! Rust types to them (every field the types write is documented, every event
//! the pipeline emits is valid).
//!
//! They keep to the JSON Schema both documents accept (draft-07 keywords,
//! `#/components/schemas/...` references) and that common client generators read.

use serde_json::{Map, Value, json};

use tel_core::domain::callback::MAX_TASK_TOKEN_CHARS;
use tel_core::domain::request::{MAX_ID_LENGTH, MAX_PRIORITY};
use tel_core::domain::{EventType, TaskStatus};

/// A reference to a component schema.
pub fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A definition's name, as registries and requests spell it.
pub const DEFINITION_NAME_PATTERN: &str = "^[a-z0-9][a-z0-9._-]{0,63}$";

/// Every shared component schema, by name.
pub fn components() -> Map<String, Value> {
    let mut schemas = Map::new();
    schemas.insert("Status".into(), status());
    schemas.insert("ExecutionRequest".into(), execution_request());
    schemas.insert("ObjectLocation".into(), object_location());
    schemas.insert("PayloadRef".into(), payload_ref());
    schemas.insert("TaskError".into(), task_error());
    schemas.insert("TaskEvent".into(), task_event());
    schemas.insert("CircuitEvent".into(), circuit_event());
    schemas
}

pub fn status() -> Value {
    let names: Vec<&str> = TaskStatus::ALL.iter().map(TaskStatus::as_str).collect();
    json!({ "type": "string", "enum": names })
}

/// An id the orchestrator gives: not blank, at most `MAX_ID_LENGTH` characters.
fn id_text(description: &str, example: &str) -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": "\\S", "description": description, "examples": [example] })
}

pub fn execution_request() -> Value {
    json!({
        "type": "object",
        "title": "ExecutionRequest",
        "description": "Asks tel to run one step of one workflow instance. Give the input inline (`input`) or in the payload bucket (`inputRef`), not both.",
        "required": ["taskDefinitionId", "workflowInstanceId", "stepId"],
        "additionalProperties": false,
        "properties": {
            "taskInstanceId": { "type": "string", "format": "uuid", "description": "The task's id, chosen by the caller (repeats name the same task). Without it, a repeat of the same queue message or idempotency key names the same task." },
            "taskDefinitionId": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}(:[1-9][0-9]{0,8})?$", "description": "A definition's name, or `name:version` to pin a version.", "examples": ["order-total", "order-total:3"] },
            "workflowInstanceId": id_text("The orchestrator's workflow instance (Step Functions: `$$.Execution.Name`).", "wf-1001"),
            "stepId": id_text("The step of that workflow.", "price-order"),
            "input": { "description": "The task's input, checked against the definition's inputSchema.", "examples": [{ "orderId": "1001", "items": [{ "sku": "BOOK-1", "price": 12.5, "quantity": 2 }] }] },
            "inputRef": reference("ObjectLocation"),
            "priority": { "type": "integer", "minimum": 0, "maximum": MAX_PRIORITY, "default": 0, "description": "0–9; at or above the deployment's threshold the task takes the priority lanes." },
            "context": { "description": "Opaque data passed to the implementation beside the input." },
            "taskToken": { "type": "string", "minLength": 1, "maxLength": MAX_TASK_TOKEN_CHARS, "description": "Step Functions' `$$.Task.Token` (the `.waitForTaskToken` callback pattern): tel answers it when the task ends (SendTaskSuccess with the output, SendTaskFailure with error = tel's error code and cause = the error as JSON) and sends heartbeats while it is unfinished. Kept with the task only: never logged, published or shown." },
            "traceparent": { "type": "string", "maxLength": 512, "description": "The caller's trace context, for senders that cannot set the `traceparent` message attribute: a W3C traceparent or an X-Ray trace header. The attribute (or the API's header, or SQS's AWSTraceHeader) wins over it. The task's `traceId` from then on.", "examples": ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"] },
            "callbackOutput": { "type": "string", "enum": ["output", "envelope"], "default": "output", "description": "What SendTaskSuccess carries to the waiting step: the task's output (default), or `{output, taskInstanceId, traceId}` (envelope), so the workflow holds the task's id and trace." }
        },
        // Exactly one of input and inputRef, said without a union, so that
        // client generators still make one request type of it.
        "if": { "required": ["inputRef"] },
        "then": { "not": { "required": ["input"] } },
        "else": { "required": ["input"] }
    })
}

pub fn object_location() -> Value {
    json!({
        "type": "object",
        "description": "An object of the stack's payload bucket holding a JSON document.",
        "required": ["bucket", "key"],
        "additionalProperties": false,
        "properties": { "bucket": { "type": "string", "minLength": 1 }, "key": { "type": "string", "minLength": 1 } }
    })
}

pub fn payload_ref() -> Value {
    json!({
        "type": "object",
        "description": "A payload too large to travel inline, in the payload bucket (a claim check). Check `size` and `sha256` when reading it.",
        "required": ["bucket", "key", "size", "sha256"],
        "additionalProperties": false,
        "properties": {
            "bucket": { "type": "string" },
            "key": { "type": "string" },
            "size": { "type": "integer", "minimum": 0, "description": "Bytes of the JSON document." },
            "sha256": { "type": "string", "pattern": "^[0-9a-f]{64}$" }
        }
    })
}

pub fn task_error() -> Value {
    json!({
        "type": "object",
        "description": "Why a task failed: a stable code, a message for people, details for machines.",
        "required": ["code", "message"],
        "additionalProperties": false,
        "properties": {
            "code": { "type": "string", "description": "VALIDATION_ERROR, OUTPUT_VALIDATION_ERROR, EXECUTION_ERROR, TIMEOUT, INTEGRATION_ERROR, UNKNOWN_DEFINITION, PERMISSION_DENIED, MEMORY_LIMIT, CANCELLED, ASSIGNMENT_ERROR, POISON_MESSAGE, MAPPING_ERROR, PAYLOAD_TOO_LARGE, CONFIGURATION_ERROR, or an integration's own." },
            "message": { "type": "string", "maxLength": 2100 },
            "details": {}
        }
    })
}

/// The `detail` of every lifecycle event; `events()` narrows it per type.
pub fn task_event() -> Value {
    let types: Vec<&str> = EventType::ALL.iter().map(EventType::as_str).collect();
    json!({
        "type": "object",
        "description": "A task lifecycle event, the `detail` of an EventBridge event from source `task-execution-layer` whose detail-type is `type`. `eventId` is the same however often the event is delivered: de-duplicate on it.",
        "required": ["eventId", "type", "taskInstanceId", "workflowInstanceId", "stepId", "definition", "status", "attempt", "occurredAt"],
        "additionalProperties": false,
        "properties": {
            "eventId": { "type": "string", "format": "uuid" },
            "type": { "type": "string", "enum": types },
            "taskInstanceId": { "type": "string", "format": "uuid" },
            "workflowInstanceId": { "type": "string" },
            "stepId": { "type": "string" },
            "definition": { "type": "string", "description": "`name:version` of the definition (version 0 when the request named none that exists)." },
            "status": reference("Status"),
            "attempt": { "type": "integer", "minimum": 0 },
            "occurredAt": { "type": "string", "format": "date-time" },
            "output": { "description": "The output, when it is small enough to travel inline." },
            "outputRef": reference("PayloadRef"),
            "error": reference("TaskError"),
            "attempts": { "type": "integer", "minimum": 0 },
            "durationMs": { "type": "integer", "description": "From the task's creation to this event." },
            "assigneeType": { "type": "string", "enum": ["USER", "GROUP"] },
            "assigneeId": { "type": "string" },
            "previousAssigneeType": { "type": "string", "enum": ["USER", "GROUP"], "description": "Who held the task until this (re)assignment or escalation: a person who had claimed it, or the group or user it was given to before." },
            "previousAssigneeId": { "type": "string" },
            "completedBy": { "type": "string", "description": "Who completed a manual task." },
            "retryAt": { "type": "string", "format": "date-time" },
            "reason": { "type": "string" },
            "traceId": { "type": "string", "description": "The trace context (W3C traceparent or X-Ray) that followed the task." },
            "requestedBy": { "type": "string", "description": "Who asked for the task: `iam:<principal id>` (the requests queue, or the bus through its rule), `user:<sub>` (the API). An orchestrator acts only on the outcomes of tasks it requested: anyone allowed to submit through the API can name any workflowInstanceId and stepId." }
        }
    })
}

/// The schema of one event type: the common one, with its type fixed and
/// the fields it always carries required.
pub fn event_of_type(event_type: EventType) -> Value {
    json!({
        "allOf": [
            reference("TaskEvent"),
            {
                "properties": { "type": { "const": event_type.as_str() } },
                "required": event_type.carries()
            }
        ]
    })
}

pub fn circuit_event() -> Value {
    json!({
        "type": "object",
        "description": "An integration's circuit breaker opened (calls are refused for `coolDownSeconds`) or closed again.",
        "required": ["integration", "circuit", "calls", "failures", "coolDownSeconds", "occurredAt"],
        "additionalProperties": false,
        "properties": {
            "integration": { "type": "string" },
            "circuit": { "type": "string", "enum": ["closed", "open", "halfOpen"] },
            "calls": { "type": "integer", "minimum": 0 },
            "failures": { "type": "integer", "minimum": 0 },
            "coolDownSeconds": { "type": "integer", "minimum": 0 },
            "occurredAt": { "type": "string", "format": "date-time" }
        }
    })
}
