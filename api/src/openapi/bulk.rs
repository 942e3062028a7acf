//! Bulk operations (a definition's managers and admins) and their answers.

use serde_json::{Value, json};

use super::Operation;

fn operation_id() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": "The operation's id.", "schema": { "type": "string", "format": "uuid" } })
}

fn links() -> Value {
    json!({
        "getOperation": { "operationId": "getOperation", "parameters": { "id": "$response.body#/operationId" } },
        "listOperationTasks": { "operationId": "listOperationTasks", "parameters": { "id": "$response.body#/operationId" } },
        "stopOperation": { "operationId": "stopOperation", "parameters": { "id": "$response.body#/operationId" } }
    })
}

fn page() -> [Value; 2] {
    [
        json!({ "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": 100 } }),
        json!({ "name": "cursor", "in": "query", "required": false, "description": "`nextCursor` of the previous page.", "schema": { "type": "string" } }),
    ]
}

pub fn operations() -> Vec<(&'static str, &'static str, Operation)> {
    let [limit, cursor] = page();
    vec![
        (
            "/operations/matches",
            "get",
            Operation {
                id: "countOperationMatches",
                tag: "operations",
                summary: "How many tasks a bulk action would act on now (the definition's managers)",
                parameters: vec![
                    json!({ "name": "action", "in": "query", "required": true, "schema": { "type": "string", "enum": ["retry", "cancel"] } }),
                    json!({ "name": "definition", "in": "query", "required": true, "schema": { "type": "string", "pattern": tel_engine::contract::schemas::DEFINITION_NAME_PATTERN } }),
                    json!({ "name": "version", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": 999_999_999 } }),
                    json!({ "name": "status", "in": "query", "required": false, "description": "Comma-separated; retry: FAILED, TIMED_OUT (default both); cancel: RETRY_WAIT, ASSIGNED, CLAIMED (default all).", "schema": { "type": "string" } }),
                    json!({ "name": "error", "in": "query", "required": false, "description": "Only tasks whose error has this code.", "schema": { "type": "string" } }),
                    json!({ "name": "since", "in": "query", "required": false, "description": "RFC 3339: tasks that ended (open ones: were created) at or after this.", "schema": { "type": "string", "format": "date-time" } }),
                    json!({ "name": "until", "in": "query", "required": false, "description": "RFC 3339: … at or before this (at most now).", "schema": { "type": "string", "format": "date-time" } }),
                ],
                body: None,
                success: ("200", "The count", "OperationMatches"),
                links: json!({}),
                problems: &[400, 401, 404, 503],
            },
        ),
        (
            "/operations",
            "post",
            Operation {
                id: "startOperation",
                tag: "operations",
                summary: "Retry or cancel every task a selection matches, in the background, paced; returns the operation to follow",
                parameters: vec![],
                body: Some("OperationRequest"),
                success: ("202", "The operation, running", "BulkOperation"),
                links: links(),
                problems: &[400, 401, 404, 409, 503],
            },
        ),
        (
            "/operations",
            "get",
            Operation {
                id: "listOperations",
                tag: "operations",
                summary: "The operations the caller started or may read the definition of, newest first",
                parameters: vec![limit, cursor.clone()],
                body: None,
                success: ("200", "One page of operations", "BulkOperationPage"),
                links: json!({}),
                problems: &[400, 401, 503],
            },
        ),
        (
            "/operations/{id}",
            "get",
            Operation {
                id: "getOperation",
                tag: "operations",
                summary: "An operation: its selection, who started it, its state and progress",
                parameters: vec![operation_id()],
                body: None,
                success: ("200", "The operation", "BulkOperation"),
                links: links(),
                problems: &[401, 404, 503],
            },
        ),
        (
            "/operations/{id}/tasks",
            "get",
            Operation {
                id: "listOperationTasks",
                tag: "operations",
                summary: "What the operation did to each task it selected",
                parameters: vec![
                    operation_id(),
                    json!({ "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": 500 } }),
                    cursor,
                ],
                body: None,
                success: ("200", "One page of outcomes", "OperationOutcomePage"),
                links: json!({}),
                problems: &[400, 401, 404, 503],
            },
        ),
        (
            "/operations/{id}/stop",
            "post",
            Operation {
                id: "stopOperation",
                tag: "operations",
                summary: "Stop a running operation (the definition's managers): the batch in hand finishes, nothing more is acted on",
                parameters: vec![operation_id()],
                body: None,
                success: ("200", "The operation, stopped", "BulkOperation"),
                links: json!({}),
                problems: &[401, 403, 404, 409, 503],
            },
        ),
    ]
}

pub fn schemas() -> Vec<(&'static str, Value)> {
    // The statuses an action applies to are part of its variant, so a
    // request the schema allows is one the API takes.
    let selection = |statuses: &[&str]| {
        json!({
            "type": "object", "required": ["definition"], "additionalProperties": false,
            "properties": {
                "definition": { "type": "string", "pattern": tel_engine::contract::schemas::DEFINITION_NAME_PATTERN },
                "version": { "type": "integer", "minimum": 1, "maximum": 999_999_999 },
                "statuses": { "type": "array", "items": { "type": "string", "enum": statuses }, "description": "Empty or absent: all the action's." },
                "errorCode": { "type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]+$" },
                "since": { "type": "string", "format": "date-time" },
                "until": { "type": "string", "format": "date-time", "description": "At most when the operation starts; a `since` after it selects nothing." }
            }
        })
    };
    let rate = json!({ "type": "integer", "minimum": 1, "maximum": 500, "description": "Tasks acted on per second at most (default 20)." });
    let operation = json!({
        "type": "object",
        "required": ["operationId", "action", "selection", "ratePerSecond", "startedBy", "state", "progress", "createdAt", "updatedAt"],
        "properties": {
            "operationId": { "type": "string", "format": "uuid" },
            "action": { "type": "string", "enum": ["retry", "cancel"] },
            "selection": { "type": "object" },
            "reason": { "type": "string" },
            "ratePerSecond": { "type": "integer" },
            "startedBy": { "type": "object", "required": ["user"], "properties": { "user": { "type": "string" } } },
            "state": { "type": "string", "enum": ["RUNNING", "STOPPED", "DONE", "FAILED"] },
            "progress": {
                "type": "object", "required": ["selected", "acted", "skipped", "failed"],
                "properties": {
                    "selected": { "type": "integer" }, "acted": { "type": "integer" },
                    "skipped": { "type": "integer" }, "failed": { "type": "integer" }
                }
            },
            "selectedAll": { "type": "boolean", "description": "The selection has been read to its end." },
            "problem": { "type": "string" },
            "createdAt": { "type": "string", "format": "date-time" },
            "updatedAt": { "type": "string", "format": "date-time" },
            "finishedAt": { "type": "string", "format": "date-time" },
            "stoppedBy": { "type": "string" }
        }
    });
    vec![
        (
            "OperationMatches",
            json!({ "type": "object", "required": ["count", "capped"], "properties": { "count": { "type": "integer", "minimum": 0 }, "capped": { "type": "boolean", "description": "More match than were counted (100,000)." } } }),
        ),
        (
            "OperationRequest",
            json!({
                "description": "A bulk retry (FAILED, TIMED_OUT tasks) or cancel (RETRY_WAIT, ASSIGNED, CLAIMED tasks).",
                "oneOf": [{ "$ref": "#/components/schemas/RetryOperationRequest" }, { "$ref": "#/components/schemas/CancelOperationRequest" }],
                "discriminator": { "propertyName": "action", "mapping": {
                    "retry": "#/components/schemas/RetryOperationRequest",
                    "cancel": "#/components/schemas/CancelOperationRequest"
                } }
            }),
        ),
        (
            "RetryOperationRequest",
            json!({
                "type": "object", "required": ["action", "selection"], "additionalProperties": false,
                "properties": {
                    "action": { "type": "string", "enum": ["retry"] },
                    "selection": selection(&["FAILED", "TIMED_OUT"]),
                    "ratePerSecond": rate
                }
            }),
        ),
        (
            "CancelOperationRequest",
            json!({
                "type": "object", "required": ["action", "selection"], "additionalProperties": false,
                "properties": {
                    "action": { "type": "string", "enum": ["cancel"] },
                    "selection": selection(&["RETRY_WAIT", "ASSIGNED", "CLAIMED"]),
                    "reason": { "type": "string", "maxLength": 500, "description": "The reason each cancelled task records." },
                    "ratePerSecond": rate
                }
            }),
        ),
        ("BulkOperation", operation.clone()),
        (
            "BulkOperationPage",
            json!({ "type": "object", "required": ["items"], "properties": { "items": { "type": "array", "items": operation }, "nextCursor": { "type": ["string", "null"] } } }),
        ),
        (
            "OperationOutcomePage",
            json!({
                "type": "object", "required": ["items"],
                "properties": {
                    "items": { "type": "array", "items": {
                        "type": "object", "required": ["taskInstanceId", "outcome", "taskVersion", "at"],
                        "properties": {
                            "taskInstanceId": { "type": "string", "format": "uuid" },
                            "outcome": { "type": "string", "enum": ["selected", "retried", "cancelled", "skipped", "failed"] },
                            "taskVersion": { "type": "integer" },
                            "detail": { "type": "string" },
                            "at": { "type": "string", "format": "date-time" }
                        }
                    } },
                    "nextCursor": { "type": ["string", "null"] }
                }
            }),
        ),
    ]
}
