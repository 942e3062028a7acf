//! The OpenAPI 3.1 description of the API, served at `/openapi.json`. Every
//! operation is named (`operationId`) and tagged, so generated clients read
//! well; links say which response feeds which request (a submitted task's id
//! to its actions), so stateful tools reach real tasks. A test checks that it
//! lists exactly the routes the router serves.

mod admin;
mod bulk;
mod figures;
mod people;
mod schemas;

use axum::Json;
use serde_json::{Map, Value, json};

pub async fn serve() -> Json<Value> {
    Json(document())
}

fn problem_responses(codes: &[u16]) -> Map<String, Value> {
    let mut responses = Map::new();
    for code in codes {
        let description = match code {
            400 => "Malformed request",
            401 => "No token, or an invalid or expired one",
            403 => "Not allowed for this caller by the definition's access rules",
            404 => "No such task or definition, or one this caller may not see",
            409 => "The task's status does not allow this, or another caller changed it first",
            413 => "A payload over the deployment's cap (TEL_MAX_PAYLOAD_BYTES)",
            422 => {
                "Well-formed but invalid: field errors in `errors`, each with `pointer` (where in the instance), `field` (the field it is about: for a missing required property, that property), `schemaPath` and `message`"
            }
            503 => "Storage unavailable for now: try again",
            _ => "Error",
        };
        responses.insert(
            code.to_string(),
            json!({ "description": description, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }),
        );
    }
    responses
}

fn json_body(schema: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

/// One operation: its id, tag and summary, what it answers on success (with
/// the links from that answer), and the problems it may answer with.
struct Operation {
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    parameters: Vec<Value>,
    body: Option<&'static str>,
    success: (&'static str, &'static str, &'static str),
    links: Value,
    problems: &'static [u16],
}

impl Operation {
    fn to_json(&self) -> Value {
        let (status, description, schema) = self.success;
        let mut ok = json!({ "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
        if self.links.as_object().is_some_and(|l| !l.is_empty()) {
            ok["links"] = self.links.clone();
        }
        let mut responses = Map::from_iter([(status.to_owned(), ok)]);
        if self.parameters.iter().any(|p| p["name"] == "If-None-Match") {
            responses.insert(
                "304".into(),
                json!({ "description": "Not modified: the caller's copy (its ETag) is current" }),
            );
        }
        responses.extend(problem_responses(self.problems));
        let mut op = json!({
            "operationId": self.id,
            "tags": [self.tag],
            "summary": self.summary,
            "responses": responses
        });
        if !self.parameters.is_empty() {
            op["parameters"] = Value::Array(self.parameters.clone());
        }
        if let Some(schema) = self.body {
            op["requestBody"] = json_body(schema);
        }
        op
    }
}

fn task_id() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": "The task's id.", "schema": { "type": "string", "format": "uuid" } })
}

fn name_parameter(what: &str) -> Value {
    json!({ "name": "name", "in": "path", "required": true, "description": format!("The {what}'s name."), "schema": { "type": "string", "pattern": tel_engine::contract::schemas::DEFINITION_NAME_PATTERN } })
}

/// Links from an answer naming a task (by `expression`) to every operation on it.
fn task_links(expression: &str, to: &[&str]) -> Value {
    let links: Map<String, Value> = to
        .iter()
        .map(|op| {
            (
                (*op).to_owned(),
                json!({ "operationId": op, "parameters": { "id": expression } }),
            )
        })
        .collect();
    Value::Object(links)
}

const TASK_OPERATIONS: [&str; 9] = [
    "getTask",
    "getTaskForm",
    "claimTask",
    "unclaimTask",
    "completeTask",
    "reassignTask",
    "cancelTask",
    "retryTask",
    "replayTask",
];

fn task_action(
    id: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
    problems: &'static [u16],
) -> Operation {
    let after = match id {
        "claimTask" => vec![
            "getTask",
            "getTaskForm",
            "completeTask",
            "unclaimTask",
            "reassignTask",
            "cancelTask",
        ],
        "unclaimTask" | "reassignTask" => {
            vec!["getTask", "claimTask", "completeTask", "cancelTask"]
        }
        _ => vec!["getTask"],
    };
    Operation {
        id,
        tag: "tasks",
        summary,
        parameters: vec![task_id()],
        body,
        success: ("200", "The task after the action", "TaskAction"),
        links: task_links("$request.path.id", &after),
        problems,
    }
}

fn operations() -> Vec<(&'static str, &'static str, Operation)> {
    vec![
        (
            "/tasks",
            "post",
            Operation {
                id: "submitTask",
                tag: "tasks",
                summary: "Submit an execution request",
                parameters: vec![
                    json!({ "name": "Idempotency-Key", "in": "header", "required": false, "description": "A repeat with the same key (from the same caller) names the same task.", "schema": { "type": "string", "maxLength": 256 } }),
                ],
                body: Some("ExecutionRequest"),
                success: (
                    "202",
                    "Accepted: the task is recorded and on its way",
                    "Accepted",
                ),
                links: task_links("$response.body#/taskInstanceId", &TASK_OPERATIONS),
                problems: &[400, 401, 403, 409, 422, 503],
            },
        ),
        (
            "/payloads",
            "post",
            Operation {
                id: "createUpload",
                tag: "tasks",
                summary: "Where to PUT a request input too large for a request body: a presigned URL for 15 minutes, and the inputRef that names it (only its uploader may submit it)",
                parameters: vec![],
                body: None,
                success: (
                    "201",
                    "Where to upload, and the inputRef to submit",
                    "Upload",
                ),
                links: json!({}),
                problems: &[401, 503],
            },
        ),
        (
            "/tasks",
            "get",
            Operation {
                id: "listInbox",
                tag: "tasks",
                summary: "The caller's inbox: a view (assigned to them, their groups' unclaimed, completed by them) sorted and narrowed, or without `view` every task they and their groups hold by status then age. An ETag comes with every answer: `If-None-Match` gets 304 while nothing changed",
                parameters: vec![
                    json!({ "name": "view", "in": "query", "required": false, "description": "mine: ASSIGNED to or CLAIMED by the caller; unclaimed: ASSIGNED to one of their groups; completed: completed by them, latest first.", "schema": { "type": "string", "enum": ["mine", "unclaimed", "completed"] } }),
                    json!({ "name": "sort", "in": "query", "required": false, "description": "With `view`: soonest due first (default; no due time last), highest priority first, or oldest first.", "schema": { "type": "string", "enum": ["due", "priority", "created"] } }),
                    json!({ "name": "due", "in": "query", "required": false, "description": "With view mine or unclaimed: due before now, due today, or due within the next seven days (days in UTC); sorted by due time.", "schema": { "type": "string", "enum": ["overdue", "today", "week"] } }),
                    json!({ "name": "If-None-Match", "in": "header", "required": false, "description": "The ETag of the answer the caller has.", "schema": { "type": "string" } }),
                ]
                .into_iter()
                .chain([definition_parameter()])
                .chain(search_parameters())
                .chain([
                    json!({ "name": "status", "in": "query", "required": false, "description": "Without `view`: only this status.", "schema": { "$ref": "#/components/schemas/Status" } }),
                    json!({ "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 } }),
                    json!({ "name": "cursor", "in": "query", "required": false, "description": "`nextCursor` of the previous page.", "schema": { "type": "string" } }),
                ])
                .collect(),
                body: None,
                success: ("200", "One page of the inbox", "InboxPage"),
                links: task_links(
                    "$response.body#/items/0/taskInstanceId",
                    &["getTask", "getTaskForm", "claimTask"],
                ),
                problems: &[400, 401],
            },
        ),
        (
            "/tasks/counts",
            "get",
            Operation {
                id: "countInbox",
                tag: "tasks",
                summary: "How many tasks each of the caller's views holds (up to 1,000 each), with an ETag; narrowed by `definition`, and by the same search as the list (`field` with `eq`, `prefix`, `min`, `max`, as for `listInbox`)",
                parameters: [
                    json!({ "name": "If-None-Match", "in": "header", "required": false, "description": "The ETag of the answer the caller has.", "schema": { "type": "string" } }),
                ]
                .into_iter()
                .chain([definition_parameter()])
                .collect(),
                body: None,
                success: ("200", "The counts", "InboxCounts"),
                links: json!({}),
                problems: &[401, 503],
            },
        ),
        (
            "/tasks/definitions",
            "get",
            Operation {
                id: "listInboxDefinitions",
                tag: "tasks",
                summary: "The manual definitions whose tasks may come to the caller (by assignment, escalation or access rules), each with its searchable fields: what the inbox's filter offers",
                parameters: vec![],
                body: None,
                success: ("200", "The definitions", "InboxDefinitions"),
                links: json!({}),
                problems: &[401, 503],
            },
        ),
        (
            "/tasks/{id}",
            "get",
            Operation {
                id: "getTask",
                tag: "tasks",
                summary: "A task with its history",
                parameters: vec![task_id()],
                body: None,
                success: ("200", "The task", "TaskView"),
                links: json!({}),
                problems: &[401, 404],
            },
        ),
        (
            "/tasks/{id}/form",
            "get",
            Operation {
                id: "getTaskForm",
                tag: "tasks",
                summary: "The render-ready form of a manual task (JSON Forms)",
                parameters: vec![task_id()],
                body: None,
                success: ("200", "The form", "Form"),
                links: json!({}),
                problems: &[401, 404],
            },
        ),
        (
            "/tasks/{id}/claim",
            "post",
            task_action(
                "claimTask",
                "Claim a task assigned to you or your group",
                None,
                &[401, 403, 404, 409],
            ),
        ),
        (
            "/tasks/{id}/unclaim",
            "post",
            task_action(
                "unclaimTask",
                "Give a claimed task back to its group",
                None,
                &[401, 403, 404, 409],
            ),
        ),
        (
            "/tasks/{id}/complete",
            "post",
            task_action(
                "completeTask",
                "Complete a manual task with the form's output",
                Some("Completion"),
                &[400, 401, 403, 404, 409, 413, 422],
            ),
        ),
        (
            "/tasks/{id}/reassign",
            "post",
            task_action(
                "reassignTask",
                "Reassign a manual task (its definition's managers)",
                Some("Assignee"),
                &[400, 401, 403, 404, 409, 422],
            ),
        ),
        (
            "/tasks/{id}/cancel",
            "post",
            task_action(
                "cancelTask",
                "Cancel a task (its definition's managers)",
                Some("Cancellation"),
                &[400, 401, 403, 404, 409],
            ),
        ),
        (
            "/tasks/{id}/retry",
            "post",
            Operation {
                id: "retryTask",
                tag: "tasks",
                summary: "Run a failed or timed-out task again (its definition's managers)",
                parameters: vec![task_id()],
                body: None,
                success: ("202", "The task, back at input validation", "TaskAction"),
                links: task_links("$request.path.id", &["getTask", "claimTask", "cancelTask"]),
                problems: &[401, 403, 404, 409],
            },
        ),
        (
            "/tasks/{id}/replay",
            "post",
            Operation {
                id: "replayTask",
                tag: "tasks",
                summary: "Run a failed or timed-out task again with corrected input (its definition's managers); the input is checked against the input schema first, and the one it had stays readable (`previousInputs` on the task)",
                parameters: vec![task_id()],
                body: Some("Replay"),
                success: (
                    "202",
                    "The task, back at input validation with the new input",
                    "TaskAction",
                ),
                links: task_links("$request.path.id", &["getTask", "cancelTask"]),
                problems: &[400, 401, 403, 404, 409, 413, 422],
            },
        ),
        (
            "/definitions/{name}",
            "put",
            Operation {
                id: "registerDefinition",
                tag: "definitions",
                summary: "Register a new version of a definition (admins; new versions also its managers)",
                parameters: vec![name_parameter("definition")],
                body: Some("TaskDefinitionInput"),
                success: ("201", "The registered version", "TaskDefinition"),
                links: json!({
                    "getDefinition": { "operationId": "getDefinition", "parameters": { "name": "$response.body#/name" } },
                    "getDefinitionVersion": { "operationId": "getDefinitionVersion", "parameters": { "name": "$response.body#/name", "version": "$response.body#/version" } },
                    "submitTask": { "operationId": "submitTask", "requestBody": { "taskDefinitionId": "$response.body#/name" } }
                }),
                problems: &[400, 401, 403, 409, 422],
            },
        ),
        (
            "/definitions/{name}",
            "get",
            Operation {
                id: "getDefinition",
                tag: "definitions",
                summary: "The latest version of a definition",
                parameters: vec![name_parameter("definition")],
                body: None,
                success: (
                    "200",
                    "The definition (its implementation for managers only)",
                    "TaskDefinition",
                ),
                links: json!({}),
                problems: &[401, 404],
            },
        ),
        (
            "/definitions/{name}/versions/{version}",
            "get",
            Operation {
                id: "getDefinitionVersion",
                tag: "definitions",
                summary: "One version of a definition",
                parameters: vec![
                    name_parameter("definition"),
                    json!({ "name": "version", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 } }),
                ],
                body: None,
                success: ("200", "The definition", "TaskDefinition"),
                links: json!({}),
                problems: &[401, 404],
            },
        ),
        (
            "/integrations/{name}",
            "put",
            Operation {
                id: "registerIntegration",
                tag: "integrations",
                summary: "Register a new version of an integration (admins; new versions also its managers)",
                parameters: vec![name_parameter("integration")],
                body: Some("IntegrationInput"),
                success: ("201", "The registered version", "Integration"),
                links: json!({ "getIntegration": { "operationId": "getIntegration", "parameters": { "name": "$response.body#/name" } } }),
                problems: &[400, 401, 403, 409, 422],
            },
        ),
        (
            "/integrations/{name}",
            "get",
            Operation {
                id: "getIntegration",
                tag: "integrations",
                summary: "The latest version of an integration",
                parameters: vec![name_parameter("integration")],
                body: None,
                success: ("200", "The integration", "Integration"),
                links: json!({}),
                problems: &[401, 404],
            },
        ),
    ]
}

/// The documents themselves, served without a token.
fn document_routes() -> Value {
    json!({
        "/openapi.json": {
            "get": { "operationId": "getOpenApi", "tags": ["contract"], "summary": "This document", "security": [], "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": { "schema": { "type": "object", "additionalProperties": true } } } } } }
        },
        "/asyncapi.json": {
            "get": { "operationId": "getAsyncApi", "tags": ["contract"], "summary": "The asynchronous contract: the requests queue, every event, the Step Functions callbacks (AsyncAPI 3.0)", "security": [], "responses": { "200": { "description": "AsyncAPI 3.0", "content": { "application/json": { "schema": { "type": "object", "additionalProperties": true } } } } } }
        }
    })
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for (path, method, operation) in operations()
        .into_iter()
        .chain(admin::operations())
        .chain(bulk::operations())
        .chain(figures::operations())
        .chain(people::operations())
    {
        let item = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        item[method] = operation.to_json();
    }
    if let Value::Object(documents) = document_routes() {
        paths.extend(documents);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tel — Task Execution Layer API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Submit execution requests, read tasks and inboxes, work manual tasks, manage definitions and integrations. Errors are application/problem+json (RFC 9457) with a stable `code`. The events and the requests queue are described by the AsyncAPI document at /asyncapi.json."
        },
        "tags": [
            { "name": "tasks", "description": "Submit, read and work tasks." },
            { "name": "definitions", "description": "Task definitions: versioned, immutable per version." },
            { "name": "integrations", "description": "External services integration tasks call." },
            { "name": "admin", "description": "The operator console: every task, events, figures, dead letters, the catalogue (admins only)." },
            { "name": "operations", "description": "Bulk actions: retry or cancel every task a selection matches, followed task by task (a definition's managers)." },
            { "name": "people", "description": "Who hears of their work: one's notification channels, and the directory admins register." },
            { "name": "contract", "description": "The API's and the events' documents." }
        ],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": schemas::components().into_iter().chain(admin::schemas().into_iter().chain(bulk::schemas()).chain(figures::schemas()).chain(people::schemas()).map(|(k, v)| (k.to_owned(), v))).collect::<Map<String, Value>>()
        }
    })
}

/// The inbox's filter by definition and search of a declared field.
/// The inbox's filter by definition (a definition's name).
fn definition_parameter() -> Value {
    json!({ "name": "definition", "in": "query", "required": false, "description": "With `view`: only tasks of this definition (any version).", "schema": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$" } })
}

/// The search of a declared field. (Documented on the list only: they
/// depend on each other and on `definition`, which a query's parameters
/// cannot say, so a fuzzer drawing them freely for the counts would draw
/// mostly refused requests; the counts take them the same way.)
fn search_parameters() -> [Value; 5] {
    [
        json!({ "name": "field", "in": "query", "required": false, "description": "With `definition`: a field its latest version declares in `manual.searchable`; the view then comes in the field's order and takes no `sort` or `due`.", "schema": { "type": "string" } }),
        json!({ "name": "eq", "in": "query", "required": false, "description": "The field equals this (text: ignoring case).", "schema": { "type": "string" } }),
        json!({ "name": "prefix", "in": "query", "required": false, "description": "A text field starts with this (ignoring case).", "schema": { "type": "string" } }),
        json!({ "name": "min", "in": "query", "required": false, "description": "A number or date field is at least this (a date: RFC 3339 or YYYY-MM-DD).", "schema": { "type": "string" } }),
        json!({ "name": "max", "in": "query", "required": false, "description": "A number or date field is at most this (a YYYY-MM-DD day: the whole day).", "schema": { "type": "string" } }),
    ]
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
        let mut served: Vec<(String, String)> = crate::ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
    }

    #[test]
    fn every_operation_is_named_tagged_and_every_link_names_an_operation() {
        let doc = document();
        let mut ids = std::collections::BTreeSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"].as_str().expect("an operationId");
                assert!(ids.insert(id.to_owned()), "{id} twice");
                assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{id}");
            }
        }
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                for response in op["responses"].as_object().unwrap().values() {
                    for link in response["links"].as_object().into_iter().flatten() {
                        let target = link.1["operationId"].as_str().unwrap();
                        assert!(ids.contains(target), "a link to {target}");
                    }
                }
            }
        }
    }
}
