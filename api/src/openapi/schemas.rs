//! The HTTP API's own schemas (what its responses and action bodies look
//! like), beside the shared ones from `contract` (requests, events,
//! registrations).

use serde_json::{Map, Value, json};

use tel_engine::contract::registrations;
use tel_engine::contract::schemas::{self, reference};

pub fn components() -> Map<String, Value> {
    let mut all = schemas::components();
    all.extend(registrations::components());
    for (name, schema) in [
        ("Problem", problem()),
        ("Accepted", accepted()),
        ("Upload", upload()),
        ("Task", task()),
        ("HistoryEntry", history_entry()),
        ("TaskView", task_view()),
        ("TaskAction", task_action()),
        ("InboxItem", inbox_item()),
        ("InboxPage", inbox_page()),
        (
            "InboxCounts",
            json!({
                "type": "object", "required": ["mine", "unclaimed", "completed"],
                "description": "How many tasks each view holds, counted up to 1,000 (`more`: there are more).",
                "properties": {
                    "mine": reference("ViewCount"), "unclaimed": reference("ViewCount"), "completed": reference("ViewCount")
                }
            }),
        ),
        (
            "ViewCount",
            json!({
                "type": "object", "required": ["count", "more"],
                "properties": { "count": { "type": "integer", "minimum": 0 }, "more": { "type": "boolean" } }
            }),
        ),
        (
            "InboxDefinitions",
            json!({
                "type": "object", "required": ["items"],
                "properties": { "items": { "type": "array", "items": {
                    "type": "object", "required": ["name", "searchable"],
                    "properties": {
                        "name": { "type": "string" },
                        "searchable": { "type": "object", "description": "Field → kind: what `field` may name with this definition.", "additionalProperties": { "enum": ["text", "number", "date"] } }
                    }
                } } }
            }),
        ),
        ("Form", form()),
        ("Completion", completion()),
        ("Cancellation", cancellation()),
        (
            "Replay",
            json!({
                "type": "object", "required": ["input"], "additionalProperties": false,
                "properties": { "input": { "description": "The corrected input, checked against the definition version's inputSchema." } }
            }),
        ),
        ("TaskDefinition", task_definition()),
        ("Integration", integration()),
    ] {
        all.insert(name.into(), schema);
    }
    all
}

fn problem() -> Value {
    json!({
        "type": "object", "description": "RFC 9457 problem details with a stable `code`.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" },
            "detail": { "type": "string" }, "code": { "type": "string" },
            "errors": { "type": "array", "items": { "type": "object", "additionalProperties": true } }
        }
    })
}

fn accepted() -> Value {
    json!({
        "type": "object", "required": ["taskInstanceId", "status", "href"],
        "properties": {
            "taskInstanceId": { "type": "string", "format": "uuid" },
            "status": reference("Status"),
            "href": { "type": "string" }
        }
    })
}

fn upload() -> Value {
    json!({
        "type": "object", "required": ["inputRef", "uploadUrl", "method", "headers", "expiresAt"],
        "properties": {
            "inputRef": {
                "type": "object", "required": ["bucket", "key"],
                "properties": { "bucket": { "type": "string" }, "key": { "type": "string" } },
                "description": "What to give as the request's inputRef once the JSON input is uploaded."
            },
            "uploadUrl": { "type": "string", "format": "uri", "description": "PUT the input (JSON) here, without a token." },
            "method": { "type": "string", "const": "PUT" },
            "headers": { "type": "object", "additionalProperties": { "type": "string" }, "description": "Headers the upload must carry." },
            "expiresAt": { "type": "string", "format": "date-time" }
        }
    })
}

fn actions() -> Value {
    json!({ "type": "array", "description": "What the caller may do with the task now.", "items": { "type": "string", "enum": ["claim", "unclaim", "complete", "reassign", "cancel", "retry", "replay"] } })
}

fn task() -> Value {
    let time = json!({ "type": "string", "format": "date-time" });
    json!({
        "type": "object",
        "required": ["taskInstanceId", "definitionName", "definitionVersion", "workflowInstanceId", "stepId", "status", "attempt", "version", "createdAt", "updatedAt"],
        "properties": {
            "taskInstanceId": { "type": "string", "format": "uuid" },
            "definitionName": { "type": "string" },
            "definitionVersion": { "type": "integer", "minimum": 0 },
            "taskType": { "type": "string", "enum": ["automated", "integration", "manual"] },
            "workflowInstanceId": { "type": "string" },
            "stepId": { "type": "string" },
            "status": reference("Status"),
            "input": {}, "context": {}, "output": {},
            "error": reference("TaskError"),
            "inputRef": reference("PayloadRef"), "contextRef": reference("PayloadRef"), "outputRef": reference("PayloadRef"),
            "attempt": { "type": "integer", "minimum": 0 },
            "priority": { "type": "integer" },
            "assignee": reference("Assignee"),
            "dueAt": time, "startBy": time, "closeBy": time,
            "manual": { "type": "object", "additionalProperties": true, "description": "Reminder and escalation progress." },
            "deadlines": { "type": "object", "additionalProperties": { "type": "string", "format": "date-time" }, "description": "Pending deadlines by kind." },
            "createdAt": time, "updatedAt": time, "attemptStartedAt": time, "finishedAt": time,
            "completedBy": { "type": "string" },
            "traceId": { "type": "string" },
            "requestedBy": { "type": "string", "description": "user:<sub> (the API) or iam:<principal> (the queue)." },
            "version": { "type": "integer", "minimum": 1 }
        }
    })
}

fn history_entry() -> Value {
    json!({
        "type": "object", "required": ["version", "at", "action", "to", "attempt"],
        "properties": {
            "version": { "type": "integer" }, "at": { "type": "string", "format": "date-time" },
            "action": { "type": "string" }, "from": reference("Status"), "to": reference("Status"),
            "attempt": { "type": "integer" }, "actor": { "type": "string" },
            "attemptStartedAt": { "type": "string", "format": "date-time" }, "durationMs": { "type": "integer" },
            "outcome": { "type": "string" }, "details": {}
        }
    })
}

fn task_view() -> Value {
    json!({
        "type": "object", "required": ["task", "history", "actions"],
        "properties": {
            "task": reference("Task"),
            "title": { "type": ["string", "null"], "description": "What the task is about, from its definition's title template; null when the definition has none." },
            "history": { "type": "array", "items": reference("HistoryEntry") },
            "actions": actions(),
            "traceId": { "type": ["string", "null"], "description": "The task's trace context (W3C traceparent, or the X-Ray header it came with): on every event, stage message and HTTP integration call of the task." },
            "timeline": { "type": "array", "description": "The task's life as spans of time, oldest first: queued, running (each attempt), waiting (a retry's delay), withPerson.", "items": { "type": "object", "required": ["kind", "attempt", "from", "to", "open"], "properties": { "kind": { "type": "string", "enum": ["queued", "running", "waiting", "withPerson"] }, "attempt": { "type": "integer" }, "from": { "type": "string", "format": "date-time" }, "to": { "type": "string", "format": "date-time" }, "open": { "type": "boolean", "description": "Still going on: `to` is now." } } } },
            "previousInputs": { "type": "array", "description": "The inputs replays replaced, oldest first: each inline, or over 1 MB as a URL that reads it for 15 minutes.", "items": { "type": "object", "required": ["version", "at"], "properties": { "version": { "type": "integer" }, "at": { "type": "string", "format": "date-time" }, "by": { "type": ["string", "null"] }, "input": {}, "url": { "type": "string" }, "unavailable": { "type": "boolean", "description": "Not readable any more (removed by the bucket's retention, or too large to keep without a bucket)." } } } },
            "payloadUrls": { "type": "object", "description": "For a payload over 1 MB: a URL that reads it for 15 minutes", "properties": { "input": { "type": "string" }, "context": { "type": "string" }, "output": { "type": "string" } } }
        }
    })
}

fn task_action() -> Value {
    json!({ "type": "object", "required": ["task", "actions"], "properties": { "task": reference("Task"), "actions": actions() } })
}

fn inbox_item() -> Value {
    json!({
        "type": "object", "required": ["taskInstanceId", "definition", "status", "priority", "createdAt", "workflowInstanceId", "stepId", "actions"],
        "properties": {
            "taskInstanceId": { "type": "string", "format": "uuid" }, "definition": { "type": "string" },
            "title": { "type": ["string", "null"], "description": "What the task is about, from its definition's title template; null when the definition has none." },
            "status": reference("Status"), "assignee": reference("Assignee"),
            "dueAt": { "type": ["string", "null"], "format": "date-time" }, "priority": { "type": "integer" },
            "createdAt": { "type": "string", "format": "date-time" },
            "completedBy": { "type": ["string", "null"] }, "finishedAt": { "type": ["string", "null"], "format": "date-time" },
            "workflowInstanceId": { "type": "string" }, "stepId": { "type": "string" }, "actions": actions()
        }
    })
}

fn inbox_page() -> Value {
    json!({
        "type": "object", "required": ["items"],
        "properties": {
            "view": { "type": "string", "enum": ["mine", "unclaimed", "completed"], "description": "The view asked for (absent without `view`)." },
            "sort": { "type": "string", "enum": ["due", "priority", "created"], "description": "The order the view is in." },
            "items": { "type": "array", "items": reference("InboxItem") },
            "nextCursor": { "type": ["string", "null"], "description": "Pass as `cursor` for the next page; null on the last." }
        }
    })
}

fn form() -> Value {
    let side = json!({ "type": "object", "required": ["schema", "uischema", "data"], "properties": {
        "schema": { "type": "object", "additionalProperties": true }, "uischema": { "type": "object", "additionalProperties": true },
        "data": {}, "readonly": { "type": "boolean" }
    } });
    json!({
        "type": "object", "required": ["taskInstanceId", "definition", "status", "renderer", "input", "output", "actions", "submit"],
        "properties": {
            "taskInstanceId": { "type": "string", "format": "uuid" }, "definition": { "type": "string" },
            "title": { "type": ["string", "null"], "description": "What the task is about, from its definition's title template; null when the definition has none." },
            "status": reference("Status"), "assignee": reference("Assignee"),
            "dueAt": { "type": ["string", "null"], "format": "date-time" },
            "renderer": { "type": "string", "enum": ["jsonforms"] },
            "input": side, "output": side, "actions": actions(),
            "submit": { "type": "object", "properties": { "method": { "type": "string" }, "href": { "type": "string" }, "body": { "type": "string" } } }
        }
    })
}

fn completion() -> Value {
    json!({ "type": "object", "required": ["output"], "additionalProperties": false, "properties": { "output": { "description": "Checked against the definition's outputSchema (the form's output schema)." } } })
}

fn cancellation() -> Value {
    json!({ "type": "object", "additionalProperties": false, "properties": { "reason": { "type": "string", "maxLength": 1000 } } })
}

/// A registered definition: what was registered, with its name, version and versions.
fn task_definition() -> Value {
    let implementations = [
        "JavascriptImplementation",
        "SystemImplementation",
        "LambdaImplementation",
        "HttpImplementation",
    ];
    let mapping: Map<String, Value> = ["javascript", "system", "lambda", "http"]
        .iter()
        .zip(implementations)
        .map(|(kind, name)| {
            (
                (*kind).to_owned(),
                json!(format!("#/components/schemas/{name}")),
            )
        })
        .collect();
    let refs: Vec<Value> = implementations.iter().map(|n| reference(n)).collect();
    json!({
        "type": "object", "required": ["name", "version", "type", "inputSchema", "outputSchema", "timeoutSeconds", "retry"],
        "properties": {
            "name": { "type": "string" }, "version": { "type": "integer", "minimum": 1 },
            "type": { "type": "string", "enum": ["automated", "integration", "manual"] },
            "description": { "type": "string" },
            "title": { "type": "string", "description": "The template of its tasks' titles." },
            "implementation": { "description": "Shown to the definition's managers only.", "oneOf": refs, "discriminator": { "propertyName": "kind", "mapping": mapping } },
            "inputSchema": { "type": "object", "additionalProperties": true }, "outputSchema": { "type": "object", "additionalProperties": true },
            "timeoutSeconds": { "type": "integer" }, "scheduleToStartSeconds": { "type": "integer" }, "scheduleToCloseSeconds": { "type": "integer" },
            "heartbeatSeconds": { "type": "integer" },
            "retry": reference("RetryPolicy"), "manual": reference("ManualSettings"),
            "limits": reference("Limits"), "access": reference("AccessRules"),
            "versions": { "type": "array", "items": { "type": "integer" }, "description": "Every version of this definition." }
        }
    })
}

fn integration() -> Value {
    json!({
        "type": "object", "required": ["name", "version", "baseUrl"],
        "properties": {
            "name": { "type": "string" }, "version": { "type": "integer", "minimum": 1 },
            "baseUrl": { "type": "string" },
            "allowedHosts": { "type": "array", "items": { "type": "string" } },
            "defaultHeaders": { "type": "object", "additionalProperties": { "type": "string" } },
            "timeouts": reference("Timeouts"), "auth": reference("IntegrationAuth"),
            "limits": reference("IntegrationLimits"), "breaker": reference("BreakerSettings"),
            "allowPrivateNetworks": { "type": "boolean" }, "access": reference("IntegrationAccess")
        }
    })
}
