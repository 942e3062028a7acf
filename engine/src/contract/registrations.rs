//! The JSON Schemas of what is registered: a task definition and an
//! integration, as `PUT /definitions/{name}` and `PUT /integrations/{name}`
//! take them (the path names them). As strict as `TaskDefinition::parse` and
//! `Integration::parse` where a schema can say it; what only a parser can
//! check (a JMESPath expression, an input schema that compiles) is said in
//! the descriptions. Every variant is a named schema, chosen by a
//! discriminator, so client generators make one type of each.

use serde_json::{Map, Value, json};

use super::schemas::{DEFINITION_NAME_PATTERN, reference};
use tel_core::domain::definition::MAX_TIMEOUT_SECONDS;
use tel_core::domain::retry::{MAX_ATTEMPTS_LIMIT, MAX_DELAY_LIMIT_SECONDS};

/// Every registration schema, by name.
pub fn components() -> Map<String, Value> {
    let mut all = Map::new();
    let mut add = |name: &str, schema: Value| {
        all.insert(name.to_owned(), schema);
    };
    add("Principals", principals());
    add("Assignee", assignee());
    add(
        "AccessRules",
        access(
            &["submit", "read", "work", "manage"],
            "Who may submit, read, work and manage its tasks; none: admins only.",
        ),
    );
    add(
        "IntegrationAccess",
        access(
            &["use", "read", "manage"],
            "Who may name it in a definition, see it, and register its versions; none: admins only.",
        ),
    );
    add("RetryPolicy", retry_policy());
    add("Limits", limits());
    add("TaskDefinitionInput", task_definition());
    for (kind, body, variant) in [
        ("automated", "implementation", "AutomatedImplementation"),
        ("integration", "implementation", "HttpImplementation"),
        ("manual", "manual", "ManualSettings"),
    ] {
        add(
            &definition_of_type_name(kind),
            definition_of_type(kind, body, variant),
        );
    }
    add(
        "AutomatedImplementation",
        one_of(
            "kind",
            &[
                ("javascript", "JavascriptImplementation"),
                ("system", "SystemImplementation"),
                ("lambda", "LambdaImplementation"),
            ],
        ),
    );
    add(
        "JavascriptImplementation",
        tagged(
            "kind",
            "javascript",
            &["source"],
            json!({
                "source": { "type": "string", "minLength": 1, "pattern": "\\S", "description": "An ES module whose default export (or `function main`) gets (input, task) and returns the output." }
            }),
        ),
    );
    add(
        "SystemImplementation",
        tagged(
            "kind",
            "system",
            &["function"],
            json!({
                "function": { "type": "string", "enum": ["events.publish", "hash.sha256", "json.transform", "queue.send", "time.now", "uuid.v7"] },
                "permissions": names(),
                "config": { "description": "The function's own settings." }
            }),
        ),
    );
    add(
        "LambdaImplementation",
        tagged(
            "kind",
            "lambda",
            &["functionName"],
            json!({
                "functionName": { "type": "string", "minLength": 1, "pattern": "\\S" },
                "qualifier": { "type": "string", "minLength": 1 }
            }),
        ),
    );
    add(
        "HttpImplementation",
        tagged(
            "kind",
            "http",
            &["integration", "request"],
            json!({
                "integration": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}(:[1-9][0-9]{0,8})?$", "description": "A registered integration the registrant may use." },
                "request": reference("HttpRequestMapping"),
                "response": reference("HttpResponseMapping")
            }),
        ),
    );
    add(
        "HttpRequestMapping",
        json!({
            "type": "object", "additionalProperties": false,
            "description": "Expressions are JMESPath over {input, context, task}.",
            "properties": {
                "method": { "type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], "default": "GET" },
                "path": { "type": "string", "description": "With {expression} placeholders, e.g. /customers/{input.customerId}." },
                "query": { "type": "object", "additionalProperties": { "type": "string" }, "description": "Parameter name → expression." },
                "headers": { "type": "object", "additionalProperties": { "type": "string" }, "description": "Header name → expression." },
                "body": { "type": "string", "description": "An expression for the JSON body." }
            }
        }),
    );
    add(
        "HttpResponseMapping",
        json!({
            "type": "object", "additionalProperties": false,
            "properties": { "output": { "type": "string", "default": "body", "description": "JMESPath over {status, headers, body}." } }
        }),
    );
    add("ManualSettings", manual_settings());
    add("NotifySettings", notify_settings());
    add(
        "Assignment",
        one_of(
            "strategy",
            &[
                ("user", "UserAssignment"),
                ("group", "GroupAssignment"),
                ("roundRobin", "RoundRobinAssignment"),
                ("leastLoaded", "LeastLoadedAssignment"),
                ("fromPath", "FromPathAssignment"),
            ],
        ),
    );
    let id = json!({ "type": "string", "minLength": 1, "pattern": "\\S" });
    let users = json!({ "type": "array", "minItems": 1, "items": { "type": "string", "minLength": 1, "pattern": "\\S" } });
    add(
        "UserAssignment",
        tagged("strategy", "user", &["id"], json!({ "id": id })),
    );
    add(
        "GroupAssignment",
        tagged("strategy", "group", &["id"], json!({ "id": id })),
    );
    add(
        "RoundRobinAssignment",
        tagged(
            "strategy",
            "roundRobin",
            &["users"],
            json!({ "users": users }),
        ),
    );
    add(
        "LeastLoadedAssignment",
        tagged(
            "strategy",
            "leastLoaded",
            &["users"],
            json!({ "users": users }),
        ),
    );
    add(
        "FromPathAssignment",
        tagged(
            "strategy",
            "fromPath",
            &["path"],
            json!({
                "path": { "type": "string", "pattern": "^/", "description": "A JSON pointer into the request, e.g. /input/approver." },
                "assigneeType": { "type": "string", "enum": ["USER", "GROUP"] },
                "fallback": reference("Assignee")
            }),
        ),
    );
    add(
        "EscalationStep",
        json!({
            "type": "object", "required": ["afterSeconds", "to"], "additionalProperties": false,
            "properties": { "afterSeconds": { "type": "integer", "minimum": 1 }, "to": reference("Assignee") }
        }),
    );
    add(
        "OnDue",
        one_of(
            "action",
            &[("fail", "FailOnDue"), ("complete", "CompleteOnDue")],
        ),
    );
    add("FailOnDue", tagged("action", "fail", &[], json!({})));
    add(
        "CompleteOnDue",
        tagged(
            "action",
            "complete",
            &["output"],
            json!({ "output": { "description": "The output the task completes with." } }),
        ),
    );
    add("IntegrationInput", integration());
    add(
        "IntegrationAuth",
        one_of(
            "type",
            &[
                ("none", "NoAuth"),
                ("apiKey", "ApiKeyAuth"),
                ("bearer", "BearerAuth"),
                ("basic", "BasicAuth"),
                ("oauth2ClientCredentials", "OAuth2ClientCredentialsAuth"),
            ],
        ),
    );
    let secret = json!({ "type": "string", "minLength": 1, "pattern": "\\S", "description": "A Secrets Manager secret's name (under the stack's prefix)." });
    add("NoAuth", tagged("type", "none", &[], json!({})));
    add(
        "ApiKeyAuth",
        tagged(
            "type",
            "apiKey",
            &["in", "name", "secretRef"],
            json!({ "in": { "type": "string", "enum": ["header", "query"] }, "name": { "type": "string", "minLength": 1, "pattern": "\\S" }, "secretRef": secret }),
        ),
    );
    add(
        "BearerAuth",
        tagged(
            "type",
            "bearer",
            &["secretRef"],
            json!({ "secretRef": secret }),
        ),
    );
    add(
        "BasicAuth",
        tagged(
            "type",
            "basic",
            &["secretRef"],
            json!({ "secretRef": secret }),
        ),
    );
    add(
        "OAuth2ClientCredentialsAuth",
        tagged(
            "type",
            "oauth2ClientCredentials",
            &["tokenUrl", "clientId", "secretRef"],
            json!({
                "tokenUrl": { "type": "string", "format": "uri", "description": "Its host must be allowed." },
                "clientId": { "type": "string" }, "secretRef": secret, "scopes": names(), "audience": { "type": "string" }
            }),
        ),
    );
    add(
        "Timeouts",
        json!({ "type": "object", "additionalProperties": false, "required": ["connectMs", "totalMs"], "properties": {
        "connectMs": { "type": "integer", "minimum": 1, "maximum": 900_000 },
        "totalMs": { "type": "integer", "minimum": 1, "maximum": 900_000, "description": "At least connectMs." }
    } }),
    );
    add(
        "IntegrationLimits",
        json!({ "type": "object", "additionalProperties": false, "properties": {
        "maxConcurrent": { "type": "integer", "minimum": 1 },
        "ratePerSecond": { "type": "integer", "minimum": 1 }
    } }),
    );
    add(
        "BreakerSettings",
        json!({ "type": "object", "additionalProperties": false, "required": ["failureRateThreshold", "minimumCalls", "windowSeconds", "coolDownSeconds"], "properties": {
        "failureRateThreshold": { "type": "number", "exclusiveMinimum": 0, "maximum": 1 },
        "minimumCalls": { "type": "integer", "minimum": 1 },
        "windowSeconds": { "type": "integer", "minimum": 1 },
        "coolDownSeconds": { "type": "integer", "minimum": 1, "maximum": 86_400 },
        "halfOpenProbes": { "type": "integer", "minimum": 1, "maximum": 100 }
    } }),
    );
    all
}

fn seconds(max: f64, description: &str) -> Value {
    json!({ "type": "integer", "minimum": 1, "maximum": max as u64, "description": description })
}

fn names() -> Value {
    json!({ "type": "array", "items": { "type": "string", "minLength": 1 } })
}

/// An object whose `tag` property is `value`, with its own fields.
fn tagged(tag: &str, value: &str, required: &[&str], properties: Value) -> Value {
    let mut props = properties;
    props[tag] = json!({ "type": "string", "enum": [value] });
    let mut required: Vec<&str> = required.to_vec();
    required.insert(0, tag);
    json!({ "type": "object", "required": required, "additionalProperties": false, "properties": props })
}

/// One of `variants` (tag value, schema name), told apart by `tag`.
fn one_of(tag: &str, variants: &[(&str, &str)]) -> Value {
    let refs: Vec<Value> = variants.iter().map(|(_, name)| reference(name)).collect();
    let mapping: Map<String, Value> = variants
        .iter()
        .map(|(value, name)| {
            (
                (*value).to_owned(),
                json!(format!("#/components/schemas/{name}")),
            )
        })
        .collect();
    json!({ "oneOf": refs, "discriminator": { "propertyName": tag, "mapping": mapping } })
}

fn principals() -> Value {
    json!({
        "type": "object",
        "description": "Users (by subject) and groups (from the token's groups claim).",
        "additionalProperties": false,
        "properties": { "users": names(), "groups": names() }
    })
}

fn assignee() -> Value {
    json!({
        "type": "object",
        "required": ["type", "id"],
        "additionalProperties": false,
        "properties": {
            "type": { "type": "string", "enum": ["USER", "GROUP"] },
            "id": { "type": "string", "minLength": 1, "maxLength": 256, "pattern": "\\S" }
        }
    })
}

fn access(permissions: &[&str], description: &str) -> Value {
    let properties: Map<String, Value> = permissions
        .iter()
        .map(|p| ((*p).to_owned(), reference("Principals")))
        .collect();
    json!({ "type": "object", "description": description, "additionalProperties": false, "properties": properties })
}

fn retry_policy() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "maxAttempts": { "type": "integer", "minimum": 1, "maximum": MAX_ATTEMPTS_LIMIT },
            "backoff": { "type": "string", "enum": ["fixed", "linear", "exponential"] },
            "initialDelaySeconds": { "type": "number", "minimum": 0, "maximum": MAX_DELAY_LIMIT_SECONDS },
            "multiplier": { "type": "number", "minimum": 1, "maximum": 10 },
            "maxDelaySeconds": { "type": "number", "minimum": 0, "maximum": MAX_DELAY_LIMIT_SECONDS, "description": "At least initialDelaySeconds." },
            "jitter": { "type": "string", "enum": ["none", "full", "equal"] },
            "nonRetryableErrors": names()
        }
    })
}

fn limits() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "memoryBytes": { "type": "integer", "minimum": 1 },
            "stackBytes": { "type": "integer", "minimum": 1 },
            "maxConcurrent": { "type": "integer", "minimum": 1 },
            "maxOutputBytes": { "type": "integer", "minimum": 1 }
        }
    })
}

fn manual_settings() -> Value {
    json!({
        "type": "object",
        "required": ["assignment"],
        "additionalProperties": false,
        "properties": {
            "assignment": reference("Assignment"),
            "dueInSeconds": { "type": "integer", "minimum": 1 },
            "dueAtPath": { "type": "string", "pattern": "^/" },
            "reminders": { "type": "array", "items": { "type": "integer", "minimum": 1 }, "description": "Seconds after assignment." },
            "escalation": { "type": "array", "items": reference("EscalationStep") },
            "onDue": reference("OnDue"),
            "uiComponents": { "description": "JSON Forms UI schema hints for the form." },
            "notify": reference("NotifySettings"),
            "searchable": {
                "type": "object",
                "description": "The fields the inbox searches by (a field path, as in titles) and their kinds.",
                "maxProperties": 5,
                "propertyNames": { "pattern": "^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$" },
                "additionalProperties": { "enum": ["text", "number", "date"] }
            }
        }
    })
}

/// Who hears of a manual task's assignment events, and through what.
fn notify_settings() -> Value {
    let recipients = json!({
        "type": "array",
        "items": { "type": "string", "pattern": "^(assignee|previousAssignee|user:.+|group:.+)$" },
        "description": "assignee (the holder now; a group reaches its members), previousAssignee (who held it before), user:<id>, group:<id>. Replaces the default; empty turns the kind off."
    });
    json!({
        "type": "object",
        "additionalProperties": false,
        "description": "Defaults: assigned, escalated and reminder tell the assignee; taken tells the person a task was taken from; email on.",
        "properties": {
            "assigned": recipients,
            "escalated": recipients,
            "reminder": recipients,
            "taken": recipients,
            "email": { "type": "boolean", "default": true, "description": "Mail through SES (when the deployment has a sender), to each person's directory address." },
            "webhook": {
                "type": "object",
                "required": ["integration"],
                "additionalProperties": false,
                "description": "A post to a chat channel through a registered integration the registrant may use; by default POST {text} to its base URL.",
                "properties": {
                    "integration": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}(:[1-9][0-9]{0,8})?$" },
                    "request": reference("HttpRequestMapping")
                }
            }
        }
    })
}

/// A task definition as registered: one of the three task types.
fn task_definition() -> Value {
    one_of(
        "type",
        &[
            ("automated", "AutomatedTaskDefinitionInput"),
            ("integration", "IntegrationTaskDefinitionInput"),
            ("manual", "ManualTaskDefinitionInput"),
        ],
    )
}

fn definition_of_type_name(kind: &str) -> String {
    let mut name = kind.to_owned();
    name[..1].make_ascii_uppercase();
    format!("{name}TaskDefinitionInput")
}

/// A definition of one task type: what every definition has, and the
/// implementation (or manual settings) its type needs.
fn definition_of_type(kind: &str, body: &str, variant: &str) -> Value {
    let json_schema = json!({ "type": "object", "description": "A JSON Schema (draft 2020-12 unless its $schema says otherwise) that compiles; no remote $ref." });
    let mut properties = json!({
        "name": { "type": "string", "pattern": DEFINITION_NAME_PATTERN, "description": "The path's name, if given." },
        "type": { "type": "string", "enum": [kind] },
        "description": { "type": "string" },
        "title": { "type": "string", "minLength": 1, "maxLength": 200, "description": "What each task is about, for people: a template over its input and context, e.g. `Approve {employee}'s expense of {amount} EUR` (`{context.region}`, `{items.0.sku}`; `{{` for a brace). Shown in the inbox, on the task's page and in the console.", "examples": ["Approve {employee}'s expense of {amount} EUR"] },
        "inputSchema": json_schema,
        "outputSchema": json_schema,
        "timeoutSeconds": seconds(MAX_TIMEOUT_SECONDS, "Per attempt; default 30, capped by the deployment."),
        "scheduleToStartSeconds": seconds(365.0 * 86_400.0, "Most seconds from creation to the first attempt."),
        "scheduleToCloseSeconds": seconds(365.0 * 86_400.0, "Most seconds from creation to the end."),
        "heartbeatSeconds": seconds(MAX_TIMEOUT_SECONDS, "How often a Step Functions state waiting on the task hears it is alive."),
        "retry": reference("RetryPolicy"),
        "limits": reference("Limits"),
        "access": reference("AccessRules"),
        "events": { "enum": ["all", "outcomes"], "default": "all", "description": "Which lifecycle events go on the bus: all, or only task.completed, task.failed and task.cancelled (not for manual tasks)." }
    });
    properties[body] = reference(variant);
    json!({ "type": "object", "required": ["type", body], "additionalProperties": false, "properties": properties })
}

/// An integration as registered (the path gives its name).
fn integration() -> Value {
    json!({
        "type": "object",
        "required": ["baseUrl"],
        "additionalProperties": false,
        "properties": {
            "name": { "type": "string", "pattern": DEFINITION_NAME_PATTERN, "description": "The path's name, if given." },
            "baseUrl": { "type": "string", "format": "uri", "pattern": "^https?://[^/?#\\s]+", "description": "http or https, with a host." },
            "allowedHosts": { "type": "array", "items": { "type": "string", "minLength": 1 }, "description": "Hosts calls may reach; the base URL's by default." },
            "defaultHeaders": { "type": "object", "additionalProperties": { "type": "string" } },
            "timeouts": reference("Timeouts"),
            "auth": reference("IntegrationAuth"),
            "limits": reference("IntegrationLimits"),
            "breaker": reference("BreakerSettings"),
            "allowPrivateNetworks": { "type": "boolean", "default": false, "description": "Loopback, private and link-local addresses are refused unless this says otherwise." },
            "access": reference("IntegrationAccess")
        }
    })
}
