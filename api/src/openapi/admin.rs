//! The operator console's operations (admins only) and their answers.

use serde_json::{Value, json};

use super::{Operation, task_id, task_links};

fn page_parameters() -> Vec<Value> {
    vec![
        json!({ "name": "status", "in": "query", "required": false, "schema": { "$ref": "#/components/schemas/Status" } }),
        json!({ "name": "definition", "in": "query", "required": false, "description": "Only tasks of this definition (any version).", "schema": { "type": "string" } }),
        json!({ "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": 200, "default": 50 } }),
        json!({ "name": "cursor", "in": "query", "required": false, "description": "`nextCursor` of the previous page.", "schema": { "type": "string" } }),
    ]
}

pub fn operations() -> Vec<(&'static str, &'static str, Operation)> {
    vec![
        (
            "/admin/tasks",
            "get",
            Operation {
                id: "listAllTasks",
                tag: "admin",
                summary: "Every task, by status and definition (a paged read of the whole table; a page may be short and still have a next one)",
                parameters: page_parameters(),
                body: None,
                success: ("200", "One page of tasks", "AdminTaskPage"),
                links: task_links(
                    "$response.body#/items/0/taskInstanceId",
                    &["getTask", "listTaskEvents"],
                ),
                problems: &[400, 401, 403, 503],
            },
        ),
        (
            "/admin/tasks/{id}/events",
            "get",
            Operation {
                id: "listTaskEvents",
                tag: "admin",
                summary: "The events the task's transitions published, oldest first",
                parameters: vec![task_id()],
                body: None,
                success: ("200", "The events", "TaskEvents"),
                links: json!({}),
                problems: &[401, 403, 404],
            },
        ),
        (
            "/admin/stats",
            "get",
            Operation {
                id: "getStats",
                tag: "admin",
                summary: "Queue depths, tasks by status, throughput and attempt times (what `tel stats` shows)",
                parameters: vec![],
                body: None,
                success: ("200", "The figures", "Stats"),
                links: json!({}),
                problems: &[401, 403, 503],
            },
        ),
        (
            "/admin/dead-letters",
            "get",
            Operation {
                id: "listDeadLetters",
                tag: "admin",
                summary: "Messages in each dead-letter queue, with the reason each was given up on",
                parameters: vec![],
                body: None,
                success: ("200", "The dead letters by queue", "DeadLetters"),
                links: json!({}),
                problems: &[401, 403, 503],
            },
        ),
        (
            "/admin/dead-letters/{queue}/redrive",
            "post",
            Operation {
                id: "redriveDeadLetters",
                tag: "admin",
                summary: "Move a dead-letter queue's messages (up to 500) back to the queue they came from",
                parameters: vec![
                    json!({ "name": "queue", "in": "path", "required": true, "description": "The source queue: requests, validate, execute or manual.", "schema": { "type": "string" } }),
                    json!({ "name": "definition", "in": "query", "required": false, "description": "Only the messages naming a task of this definition (a request's taskDefinitionId, a stage message's task); the others stay.", "schema": { "type": "string" } }),
                ],
                body: None,
                success: ("200", "How many moved", "Redriven"),
                links: json!({}),
                problems: &[401, 403, 404, 503],
            },
        ),
        (
            "/admin/definitions",
            "get",
            Operation {
                id: "listDefinitions",
                tag: "admin",
                summary: "Every definition with its versions",
                parameters: vec![],
                body: None,
                success: ("200", "The catalogue", "Catalog"),
                links: json!({}),
                problems: &[401, 403, 503],
            },
        ),
    ]
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub fn schemas() -> Vec<(&'static str, Value)> {
    let counts =
        json!({ "type": "object", "additionalProperties": { "type": "integer", "minimum": 0 } });
    vec![
        (
            "AdminTaskPage",
            json!({
                "type": "object", "required": ["items"],
                "properties": {
                    "items": { "type": "array", "items": {
                        "type": "object", "required": ["taskInstanceId", "definition", "status", "createdAt", "updatedAt"],
                        "properties": {
                            "taskInstanceId": { "type": "string", "format": "uuid" },
                            "definition": { "type": "string" },
                            "title": { "type": ["string", "null"], "description": "What the task is about, from its definition's title template; null when the definition has none." },
                            "status": reference("Status"),
                            "taskType": { "type": ["string", "null"] },
                            "assignee": { "type": ["object", "null"] },
                            "attempt": { "type": "integer" },
                            "createdAt": { "type": "string", "format": "date-time" },
                            "updatedAt": { "type": "string", "format": "date-time" },
                            "dueAt": { "type": ["string", "null"], "format": "date-time" },
                            "workflowInstanceId": { "type": "string" },
                            "stepId": { "type": "string" }
                        }
                    } },
                    "nextCursor": { "type": ["string", "null"] }
                }
            }),
        ),
        (
            "TaskEvents",
            json!({
                "type": "object", "required": ["items"],
                "properties": { "items": { "type": "array", "items": {
                    "type": "object", "required": ["detailType", "source", "detail"],
                    "properties": {
                        "detailType": { "type": "string" }, "source": { "type": "string" },
                        "detail": { "type": "object", "description": "As /asyncapi.json describes it for the detail type." }
                    }
                } } }
            }),
        ),
        (
            "Stats",
            json!({
                "type": "object",
                "required": ["queues", "tasksByStatus", "finishedLastMinute", "finishedLast5Minutes", "executionMs", "tasksRead", "partial", "windowMinutes"],
                "properties": {
                    "queues": { "type": "object", "description": "Queue name → [waiting, in flight].", "additionalProperties": { "type": "array", "items": { "type": "integer" }, "minItems": 2, "maxItems": 2 } },
                    "tasksByStatus": counts,
                    "finishedLastMinute": { "type": "integer" },
                    "finishedLast5Minutes": { "type": "integer" },
                    "executionMs": { "type": "object", "description": "Task type → [attempts, p50 ms, p95 ms].", "additionalProperties": { "type": "array", "items": { "type": "integer" }, "minItems": 3, "maxItems": 3 } },
                    "tasksRead": { "type": "integer" },
                    "partial": { "type": "boolean", "description": "True when the table holds more tasks than one look reads (5,000)." },
                    "windowMinutes": { "type": "integer" }
                }
            }),
        ),
        (
            "DeadLetters",
            json!({
                "type": "object", "required": ["queues"],
                "properties": { "queues": { "type": "array", "items": {
                    "type": "object", "required": ["queue", "letters"],
                    "properties": {
                        "queue": { "type": "string" },
                        "letters": { "type": "array", "items": {
                            "type": "object", "required": ["messageId", "body"],
                            "properties": {
                                "messageId": { "type": "string" }, "body": { "type": "string" },
                                "receiveCount": { "type": ["integer", "null"] },
                                "sentAt": { "type": ["string", "null"] },
                                "note": { "type": ["object", "null"], "description": "Why it was given up on: `reason`, and the task when known." }
                            }
                        } }
                    }
                } } }
            }),
        ),
        (
            "Redriven",
            json!({ "type": "object", "required": ["queue", "moved"], "properties": { "queue": { "type": "string" }, "moved": { "type": "integer", "minimum": 0 } } }),
        ),
        (
            "Catalog",
            json!({
                "type": "object", "required": ["items"],
                "properties": { "items": { "type": "array", "items": {
                    "type": "object", "required": ["name", "versions"],
                    "properties": {
                        "name": { "type": "string" },
                        "latest": { "type": ["integer", "null"] },
                        "versions": { "type": "array", "items": { "type": "integer" } }
                    }
                } } }
            }),
        ),
    ]
}
