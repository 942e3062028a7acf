//! The console's charts: a definition's figures and the queues' depths over a window.

use serde_json::{Value, json};

use super::{Operation, name_parameter};

fn minutes() -> Value {
    json!({ "name": "minutes", "in": "query", "required": false, "description": "The window, ending with the current minute (steps of 1, 5, 15 or 60 minutes by its length).", "schema": { "type": "integer", "minimum": 5, "maximum": 10080, "default": 60 } })
}

pub fn operations() -> Vec<(&'static str, &'static str, Operation)> {
    vec![
        (
            "/definitions/{name}/figures",
            "get",
            Operation {
                id: "getDefinitionFigures",
                tag: "definitions",
                summary: "A definition's tasks created, completed, failed and cancelled, attempt times (p50, p95) and failures by error code, step by step (whoever may read its tasks)",
                parameters: vec![name_parameter("definition"), minutes()],
                body: None,
                success: ("200", "The figures", "DefinitionFigures"),
                links: json!({}),
                problems: &[400, 401, 404, 503],
            },
        ),
        (
            "/admin/queue-depths",
            "get",
            Operation {
                id: "getQueueDepths",
                tag: "admin",
                summary: "Each queue's deepest sample (waiting, in flight) step by step, as the sweeper took them once a minute",
                parameters: vec![minutes()],
                body: None,
                success: ("200", "The depths", "QueueDepths"),
                links: json!({}),
                problems: &[400, 401, 403, 503],
            },
        ),
    ]
}

pub fn schemas() -> Vec<(&'static str, Value)> {
    let count = json!({ "type": "integer", "minimum": 0 });
    let millis = json!({ "type": ["integer", "null"], "description": "Milliseconds, read from a histogram (within 9%); null without attempts." });
    let figures = |required: Vec<&str>| {
        let mut schema = json!({
            "type": "object",
            "required": ["created", "completed", "failed", "cancelled", "attempts", "p50Ms", "p95Ms", "errors"],
            "properties": {
                "at": { "type": "string", "format": "date-time", "description": "The step's start." },
                "created": count, "completed": count,
                "failed": { "type": "integer", "minimum": 0, "description": "Tasks that ended FAILED (timed out included)." },
                "cancelled": count,
                "attempts": { "type": "integer", "minimum": 0, "description": "Attempts that ended." },
                "p50Ms": millis, "p95Ms": millis,
                "errors": { "type": "object", "description": "Failed attempts (retried or final) by error code.", "additionalProperties": count }
            }
        });
        for field in required {
            schema["required"]
                .as_array_mut()
                .expect("a list")
                .push(json!(field));
        }
        schema
    };
    let window = json!({
        "from": { "type": "string", "format": "date-time" },
        "until": { "type": "string", "format": "date-time" },
        "stepMinutes": { "type": "integer", "enum": [1, 5, 15, 60] }
    });
    let with_window = |mut properties: Value, required: &[&str]| {
        for (key, value) in window.as_object().expect("an object") {
            properties[key] = value.clone();
        }
        let mut all = vec!["from", "until", "stepMinutes"];
        all.extend_from_slice(required);
        json!({ "type": "object", "required": all, "properties": properties })
    };
    vec![
        (
            "DefinitionFigures",
            with_window(
                json!({
                    "definition": { "type": "string" },
                    "points": { "type": "array", "items": figures(vec!["at"]) },
                    "totals": figures(vec![])
                }),
                &["definition", "points", "totals"],
            ),
        ),
        (
            "QueueDepths",
            with_window(
                json!({
                    "points": { "type": "array", "items": {
                        "type": "object", "required": ["at", "queues"],
                        "properties": {
                            "at": { "type": "string", "format": "date-time" },
                            "queues": { "type": "object", "description": "Queue name → its deepest sample in the step (absent: not sampled).", "additionalProperties": {
                                "type": "object", "required": ["waiting", "inFlight"],
                                "properties": { "waiting": count, "inFlight": count }
                            } }
                        }
                    } }
                }),
                &["points"],
            ),
        ),
    ]
}
