//! The OpenAPI 3.1 description of the API, served at `/openapi.json`. A test
//! checks that it lists exactly the routes the router serves.

use axum::Json;
use serde_json::{Value, json};

pub async fn serve() -> Json<Value> {
    Json(document())
}

fn problem_responses(codes: &[u16]) -> Value {
    let mut responses = serde_json::Map::new();
    for code in codes {
        let description = match code {
            400 => "Malformed request",
            401 => "No token, or an invalid or expired one",
            403 => "Not allowed for this caller by the definition's access rules",
            404 => "No such task or definition, or one this caller may not see",
            409 => "The task's status does not allow this, or another caller changed it first",
            413 => "A payload over the deployment's cap (TEL_MAX_PAYLOAD_BYTES)",
            422 => "Well-formed but invalid: field errors in `errors`",
            _ => "Error",
        };
        responses.insert(
            code.to_string(),
            json!({ "description": description, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }),
        );
    }
    Value::Object(responses)
}

fn with(mut ok: Value, problems: &[u16]) -> Value {
    if let (Some(map), Value::Object(extra)) = (ok.as_object_mut(), problem_responses(problems)) {
        map.extend(extra);
    }
    ok
}

fn ok(status: &str, description: &str, schema: &str) -> Value {
    json!({ status: { "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } } })
}

fn task_id() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } })
}

fn action(summary: &str, body: Option<&str>, problems: &[u16]) -> Value {
    let mut op = json!({ "summary": summary, "parameters": [task_id()], "responses": with(ok("200", "The task after the action", "TaskAction"), problems) });
    if let Some(schema) = body {
        op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    }
    op
}

pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tel — Task Execution Layer API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Submit execution requests, read tasks and inboxes, work manual tasks, manage definitions. Errors are application/problem+json (RFC 9457) with a stable `code`."
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/tasks": {
                "post": {
                    "summary": "Submit an execution request",
                    "parameters": [{ "name": "Idempotency-Key", "in": "header", "required": false, "schema": { "type": "string", "maxLength": 256 } }],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ExecutionRequest" } } } },
                    "responses": with(ok("202", "Accepted: the task is recorded and on its way", "Accepted"), &[400, 401, 403, 422])
                },
                "get": {
                    "summary": "The caller's inbox: their own tasks and their groups'",
                    "parameters": [
                        { "name": "status", "in": "query", "schema": { "$ref": "#/components/schemas/Status" } },
                        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 } },
                        { "name": "cursor", "in": "query", "schema": { "type": "string" } }
                    ],
                    "responses": with(ok("200", "One page of the inbox", "InboxPage"), &[400, 401])
                }
            },
            "/tasks/{id}": {
                "get": { "summary": "A task with its history", "parameters": [task_id()], "responses": with(ok("200", "The task", "TaskView"), &[401, 403, 404]) }
            },
            "/tasks/{id}/form": {
                "get": { "summary": "The render-ready form of a manual task (JSON Forms)", "parameters": [task_id()], "responses": with(ok("200", "The form", "Form"), &[401, 403, 404]) }
            },
            "/tasks/{id}/claim": { "post": action("Claim a task assigned to you or your group", None, &[401, 403, 404, 409]) },
            "/tasks/{id}/unclaim": { "post": action("Give a claimed task back to its group", None, &[401, 403, 404, 409]) },
            "/tasks/{id}/complete": { "post": action("Complete a manual task with the form's output", Some("Completion"), &[400, 401, 403, 404, 409, 422]) },
            "/tasks/{id}/reassign": { "post": action("Reassign a manual task (admins)", Some("Assignee"), &[400, 401, 403, 404, 409]) },
            "/tasks/{id}/cancel": { "post": action("Cancel a task (admins)", Some("Cancellation"), &[400, 401, 403, 404, 409]) },
            "/tasks/{id}/retry": {
                "post": { "summary": "Run a failed or timed-out task again (admins)", "parameters": [task_id()], "responses": with(ok("202", "The task, back at input validation", "TaskAction"), &[401, 403, 404, 409]) }
            },
            "/definitions/{name}": {
                "put": {
                    "summary": "Register a new version of a definition (admins)",
                    "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$" } }],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Definition" } } } },
                    "responses": with(ok("201", "The registered version", "Definition"), &[400, 401, 403, 409, 422])
                },
                "get": {
                    "summary": "The latest version of a definition",
                    "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }],
                    "responses": with(ok("200", "The definition", "Definition"), &[401, 404])
                }
            },
            "/definitions/{name}/versions/{version}": {
                "get": {
                    "summary": "One version of a definition",
                    "parameters": [
                        { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "version", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 } }
                    ],
                    "responses": with(ok("200", "The definition", "Definition"), &[401, 404])
                }
            },
            "/integrations/{name}": {
                "put": {
                    "summary": "Register a new version of an integration (admins)",
                    "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$" } }],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Integration" } } } },
                    "responses": with(ok("201", "The registered version", "Integration"), &[400, 401, 403, 409, 422])
                },
                "get": {
                    "summary": "The latest version of an integration",
                    "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string" } }],
                    "responses": with(ok("200", "The integration", "Integration"), &[401, 404])
                }
            },
            "/openapi.json": {
                "get": { "summary": "This document", "security": [], "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": {} } } } }
            },
            "/asyncapi.json": {
                "get": { "summary": "The asynchronous contract: the requests queue, every event, the Step Functions callbacks (AsyncAPI 3.0)", "security": [], "responses": { "200": { "description": "AsyncAPI 3.0", "content": { "application/json": {} } } } }
            }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": {
                "Problem": {
                    "type": "object", "required": ["type", "title", "status", "detail", "code"],
                    "properties": {
                        "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
                        "detail": { "type": "string" }, "code": { "type": "string" },
                        "errors": { "type": "array", "items": { "type": "object" } }
                    }
                },
                "Status": { "type": "string", "enum": ["CREATED", "QUEUED", "RUNNING", "RETRY_WAIT", "ASSIGNED", "CLAIMED", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"] },
                "ExecutionRequest": {
                    "type": "object", "required": ["taskDefinitionId", "workflowInstanceId", "stepId"],
                    "description": "Exactly one of input and inputRef.",
                    "properties": {
                        "taskInstanceId": { "type": "string", "format": "uuid" },
                        "taskDefinitionId": { "type": "string", "description": "name or name:version" },
                        "workflowInstanceId": { "type": "string", "maxLength": 256 },
                        "stepId": { "type": "string", "maxLength": 256 },
                        "input": {},
                        "inputRef": { "type": "object", "required": ["bucket", "key"], "additionalProperties": false, "description": "An object of the stack's payload bucket holding the input (JSON)", "properties": { "bucket": { "type": "string" }, "key": { "type": "string" } } },
                        "priority": { "type": "integer", "minimum": 0, "maximum": 9 }, "context": {}
                    }
                },
                "PayloadRef": { "type": "object", "required": ["bucket", "key", "size", "sha256"], "properties": { "bucket": { "type": "string" }, "key": { "type": "string" }, "size": { "type": "integer" }, "sha256": { "type": "string" } } },
                "Accepted": { "type": "object", "properties": { "taskInstanceId": { "type": "string" }, "status": { "$ref": "#/components/schemas/Status" }, "href": { "type": "string" } } },
                "Task": { "type": "object", "required": ["taskInstanceId", "status"], "properties": {
                    "taskInstanceId": { "type": "string" }, "status": { "$ref": "#/components/schemas/Status" },
                    "input": {}, "context": {}, "output": {},
                    "inputRef": { "$ref": "#/components/schemas/PayloadRef" }, "contextRef": { "$ref": "#/components/schemas/PayloadRef" }, "outputRef": { "$ref": "#/components/schemas/PayloadRef" }
                } },
                "TaskView": { "type": "object", "properties": {
                    "task": { "$ref": "#/components/schemas/Task" },
                    "history": { "type": "array", "items": { "type": "object" } },
                    "actions": { "type": "array", "items": { "type": "string" } },
                    "payloadUrls": { "type": "object", "description": "For a payload over 1 MB: a URL that reads it for 15 minutes", "properties": { "input": { "type": "string" }, "context": { "type": "string" }, "output": { "type": "string" } } }
                } },
                "TaskAction": { "type": "object", "properties": { "task": { "$ref": "#/components/schemas/Task" }, "actions": { "type": "array", "items": { "type": "string" } } } },
                "InboxPage": { "type": "object", "properties": { "items": { "type": "array", "items": { "type": "object" } }, "nextCursor": { "type": ["string", "null"] } } },
                "Form": { "type": "object", "properties": { "renderer": { "const": "jsonforms" }, "input": { "type": "object" }, "output": { "type": "object" }, "actions": { "type": "array", "items": { "type": "string" } } } },
                "Completion": { "type": "object", "required": ["output"], "properties": { "output": {} }, "additionalProperties": false },
                "Assignee": { "type": "object", "required": ["type", "id"], "properties": { "type": { "enum": ["USER", "GROUP"] }, "id": { "type": "string", "minLength": 1, "maxLength": 256 } } },
                "Cancellation": { "type": "object", "properties": { "reason": { "type": "string" } }, "additionalProperties": false },
                "Integration": { "type": "object", "required": ["baseUrl"], "properties": { "name": { "type": "string" }, "baseUrl": { "type": "string", "format": "uri" } } },
                "Definition": { "type": "object", "required": ["type"], "properties": { "name": { "type": "string" }, "type": { "enum": ["automated", "integration", "manual"] } } }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_exactly_the_served_routes() {
        let doc = document();
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
        let mut served: Vec<(String, String)> = crate::api::ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
    }
}
