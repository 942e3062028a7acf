//! The asynchronous side of tel's contract as an AsyncAPI 3.0 document: the
//! requests queue tel reads, the event bus it publishes every lifecycle event
//! on (and takes `task.requested` from), and the Step Functions callbacks it
//! answers task tokens with. Built from the schemas in `schemas`; served by
//! the API at `/asyncapi.json` and kept as `docs/asyncapi.yaml` (a test
//! checks the file is this document).

use serde_json::{Map, Value, json};

use super::schemas::{self, reference};
use tel_core::domain::{CircuitChange, EVENT_SOURCE, EventType};

/// Every message on the bus tel publishes, by its detail-type, with the
/// schema of its `detail`.
pub fn published_detail_types() -> Vec<(String, Value)> {
    let mut types: Vec<(String, Value)> = EventType::ALL
        .iter()
        .map(|t| (t.as_str().to_owned(), schemas::event_of_type(*t)))
        .collect();
    types.extend(
        CircuitChange::ALL
            .iter()
            .map(|c| (c.detail_type().to_owned(), reference("CircuitEvent"))),
    );
    types
}

fn message(name: &str, title: &str, summary: &str, payload: Value) -> Value {
    json!({
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "payload": payload
    })
}

fn channel_messages(names: &[String]) -> Value {
    let map: Map<String, Value> = names
        .iter()
        .map(|n| {
            (
                n.clone(),
                json!({ "$ref": format!("#/components/messages/{n}") }),
            )
        })
        .collect();
    Value::Object(map)
}

/// What tel does on `channel` (`send` or `receive`) with its `names` messages.
fn operation(action: &str, channel: &str, summary: &str, names: &[String]) -> Value {
    let messages: Vec<Value> = names
        .iter()
        .map(|n| json!({ "$ref": format!("#/channels/{channel}/messages/{n}") }))
        .collect();
    json!({
        "action": action,
        "channel": { "$ref": format!("#/channels/{channel}") },
        "summary": summary,
        "messages": messages
    })
}

pub fn document() -> Value {
    let mut messages = Map::new();
    messages.insert(
        "ExecutionRequest".into(),
        message(
            "ExecutionRequest",
            "Execution request",
            "Run one step of one workflow instance. A body that is not a valid request fails its task (task.failed, VALIDATION_ERROR) when it names its workflow step, else goes to the dead-letter queue.",
            reference("ExecutionRequest"),
        ),
    );
    messages.insert(
        "task.requested".into(),
        message(
            "task.requested",
            "Execution request by event",
            "An execution request as an EventBridge event (detail-type task.requested, from one of the deployment's orchestrator sources, the template's OrchestratorSources); a rule forwards it to the requests queue. A Step Functions task token is accepted here and on the queue, never through the HTTP API.",
            reference("TaskRequestedEnvelope"),
        ),
    );
    for t in EventType::ALL {
        messages.insert(
            t.as_str().into(),
            message(
                t.as_str(),
                t.as_str(),
                &format!(
                    "{} The payload is the event's `detail`; its source is `{EVENT_SOURCE}` and its detail-type `{}`.",
                    t.summary(),
                    t.as_str()
                ),
                schemas::event_of_type(t),
            ),
        );
    }
    for change in CircuitChange::ALL {
        let name = change.detail_type();
        messages.insert(
            name.into(),
            message(name, name, change.summary(), reference("CircuitEvent")),
        );
    }
    for (name, summary) in [
        (
            "SendTaskSuccess",
            "The task completed: its output (or, over Step Functions' 256 KiB, where it is).",
        ),
        (
            "SendTaskFailure",
            "The task failed, timed out or was cancelled: `error` is tel's error code (what a Catch or Retry matches), `cause` the error as JSON.",
        ),
        (
            "SendTaskHeartbeat",
            "The task is unfinished and alive (sent every heartbeatSeconds while it waits or runs).",
        ),
    ] {
        messages.insert(name.into(), message(name, name, summary, reference(name)));
    }

    let mut schemas = schemas::components();
    schemas.insert(
        "TaskRequestedEnvelope".into(),
        json!({
            "type": "object",
            "required": ["detail-type", "source", "detail"],
            "properties": {
                "detail-type": { "const": "task.requested" },
                "source": { "type": "string", "not": { "const": EVENT_SOURCE } },
                "detail": reference("ExecutionRequest")
            }
        }),
    );
    let token = json!({ "type": "string", "minLength": 1, "maxLength": tel_core::domain::callback::MAX_TASK_TOKEN_CHARS, "description": "The request's taskToken." });
    schemas.insert(
        "SendTaskSuccess".into(),
        json!({ "type": "object", "required": ["taskToken", "output"], "additionalProperties": false,
            "properties": { "taskToken": token, "output": { "type": "string", "maxLength": tel_core::domain::callback::MAX_CALLBACK_OUTPUT_BYTES, "description": "The task's output as JSON text, or with `callbackOutput: envelope` `{output, taskInstanceId, traceId}`; over 256 KiB, `{taskInstanceId, outputRef, outputTooLarge: true, traceId}`." } } }),
    );
    schemas.insert(
        "SendTaskFailure".into(),
        json!({ "type": "object", "required": ["taskToken", "error", "cause"], "additionalProperties": false,
            "properties": { "taskToken": token, "error": { "type": "string", "maxLength": tel_core::domain::callback::MAX_ERROR_CHARS, "description": "tel's error code: VALIDATION_ERROR, TIMEOUT, CANCELLED, …" },
                "cause": { "type": "string", "maxLength": tel_core::domain::callback::MAX_CAUSE_CHARS, "description": "JSON text: {code, message, details, taskInstanceId, traceId}." } } }),
    );
    schemas.insert(
        "SendTaskHeartbeat".into(),
        json!({ "type": "object", "required": ["taskToken"], "additionalProperties": false, "properties": { "taskToken": token } }),
    );

    let request_names = vec!["ExecutionRequest".to_owned()];
    let published: Vec<String> = published_detail_types()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let mut bus_names = vec!["task.requested".to_owned()];
    bus_names.extend(published.iter().cloned());
    let callback_names: Vec<String> = ["SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"]
        .map(str::to_owned)
        .to_vec();
    let stack = json!({ "stack": { "description": "The SAM stack's name." } });

    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "tel — Task Execution Layer events and requests",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "What an orchestrator sends tel and what tel sends back. Requests arrive on an SQS queue (or as task.requested events on the bus); every lifecycle change is an EventBridge event (source task-execution-layer); a request that carried a Step Functions task token is answered with SendTaskSuccess or SendTaskFailure when its task ends, and kept alive with SendTaskHeartbeat meanwhile."
        },
        "defaultContentType": "application/json",
        "servers": {
            "sqs": { "host": "sqs.{region}.amazonaws.com", "protocol": "sqs", "variables": { "region": { "default": "us-east-1" } }, "description": "The stack's requests queue (output RequestsQueueUrl)." },
            "eventbridge": { "host": "events.{region}.amazonaws.com", "protocol": "https", "variables": { "region": { "default": "us-east-1" } }, "description": "The stack's event bus (output EventBusName)." },
            "stepfunctions": { "host": "states.{region}.amazonaws.com", "protocol": "https", "variables": { "region": { "default": "us-east-1" } }, "description": "Step Functions, answered by task token." }
        },
        "channels": {
            "requests": {
                "address": "{stack}-requests",
                "title": "Requests queue",
                "description": "SQS; IAM guards who may send. Messages may be repeated (at least once): a repeat names the same task.",
                "servers": [{ "$ref": "#/servers/sqs" }],
                "parameters": stack.clone(),
                "messages": channel_messages(&request_names)
            },
            "bus": {
                "address": "{stack}-events",
                "title": "Event bus",
                "description": "EventBridge. tel publishes lifecycle and circuit events with source task-execution-layer; each event's detail-type is its message name and its detail the payload.",
                "servers": [{ "$ref": "#/servers/eventbridge" }],
                "parameters": stack,
                "messages": channel_messages(&bus_names)
            },
            "stepFunctionsCallbacks": {
                "address": null,
                "title": "Step Functions task tokens",
                "description": "The step that sent a request with a taskToken waits for one answer; heartbeats keep it alive (set its HeartbeatSeconds well above the task's heartbeatSeconds plus a minute).",
                "servers": [{ "$ref": "#/servers/stepfunctions" }],
                "messages": channel_messages(&callback_names)
            }
        },
        "operations": {
            "receiveExecutionRequests": operation("receive", "requests", "tel records each request as a task and runs it.", &request_names),
            "receiveRequestEvents": operation("receive", "bus", "task.requested events, forwarded by a rule to the requests queue.", &["task.requested".to_owned()]),
            "publishEvents": operation("send", "bus", "Every lifecycle change of every task, derived from the stored task (at least once, with a stable eventId).", &published),
            "answerTaskTokens": operation("send", "stepFunctionsCallbacks", "The answer to a waiting step, once its task ended; heartbeats while it is unfinished.", &callback_names)
        },
        "components": {
            "schemas": schemas,
            "messages": messages
        }
    })
}
