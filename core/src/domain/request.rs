//! Execution requests: what the orchestrator asks for. Arrive on the requests
//! queue, as a `task.requested` event the bus forwards there, or by the API.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::callback::check_task_token;
use super::ids::{DefinitionRef, TaskInstanceId};
use super::payload::ObjectLocation;
use super::task_error::{TaskError, VALIDATION_ERROR};

#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRequest {
    pub task_instance_id: Option<TaskInstanceId>,
    pub definition: DefinitionRef,
    pub workflow_instance_id: String,
    pub step_id: String,
    pub input: Value,
    /// Where the input is, when the orchestrator put it in the payload bucket
    /// instead (`input` is then null).
    pub input_ref: Option<ObjectLocation>,
    pub priority: i32,
    pub context: Value,
    /// The waiting orchestrator step's token (Step Functions' `$$.Task.Token`):
    /// tel answers it when the task ends.
    pub task_token: Option<String>,
    /// The caller's trace context given in the request itself (W3C
    /// `traceparent`, or an X-Ray header), for senders that cannot set
    /// message attributes; an attribute or header wins over it.
    pub traceparent: Option<String>,
    /// The step is answered with `{output, taskInstanceId, traceId}`
    /// (`callbackOutput: "envelope"`) instead of the bare output.
    pub callback_envelope: bool,
}

/// A request that cannot run, with what could be read of it. When
/// `identity` is present a FAILED task is recorded so the orchestrator hears
/// of it; otherwise the message can only go to the dead-letter queue.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRequest {
    pub error: TaskError,
    pub identity: Option<RequestIdentity>,
}

/// Enough of a request to record a task for it and tell the orchestrator.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestIdentity {
    pub task_instance_id: Option<TaskInstanceId>,
    pub workflow_instance_id: String,
    pub step_id: String,
    pub definition_name: String,
    pub input: Value,
    /// Told of the failure too. Never serialised: a credential.
    #[serde(skip)]
    pub task_token: Option<String>,
}

/// The request as written on the wire: everything optional so that missing
/// fields get named instead of failing the whole parse.
#[derive(Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RequestBody {
    #[serde(default)]
    pub task_instance_id: Option<String>,
    #[serde(default)]
    pub task_definition_id: Option<String>,
    #[serde(default)]
    pub workflow_instance_id: Option<String>,
    #[serde(default)]
    pub step_id: Option<String>,
    #[serde(default)]
    pub input: Option<Value>,
    #[serde(default)]
    pub input_ref: Option<ObjectLocation>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub context: Option<Value>,
    #[serde(default)]
    pub task_token: Option<String>,
    #[serde(default)]
    pub traceparent: Option<String>,
    #[serde(default)]
    pub callback_output: Option<String>,
}

pub const MAX_PRIORITY: i64 = 9;
/// Ids become parts of index keys, which DynamoDB caps at 1 KiB.
pub const MAX_ID_LENGTH: usize = 256;

impl ExecutionRequest {
    /// Parses a queue message body. An EventBridge envelope (`detail-type`
    /// `task.requested`) is unwrapped to its `detail`.
    pub fn parse_message(body: &str) -> Result<Self, RejectedRequest> {
        let value: Value = serde_json::from_str(body).map_err(|e| RejectedRequest {
            error: TaskError::new(
                VALIDATION_ERROR,
                format!("the request is not valid JSON: {e}"),
            ),
            identity: None,
        })?;
        Self::parse(unwrap_event(value))
    }

    pub fn parse(value: Value) -> Result<Self, RejectedRequest> {
        let Value::Object(object) = value else {
            return Err(RejectedRequest {
                error: TaskError::new(VALIDATION_ERROR, "the request must be a JSON object"),
                identity: None,
            });
        };
        let raw: RequestBody = match serde_path_to_error::deserialize(Value::Object(object.clone()))
        {
            Ok(raw) => raw,
            Err(e) => {
                return Err(RejectedRequest {
                    error: TaskError::new(VALIDATION_ERROR, format!("{}: {}", e.path(), e.inner())),
                    identity: identity_of(&object),
                });
            }
        };
        let mut problems = Vec::new();
        let task_instance_id = match raw.task_instance_id.as_deref().map(TaskInstanceId::parse) {
            Some(Err(m)) => {
                problems.push(("taskInstanceId", m));
                None
            }
            Some(Ok(id)) => Some(id),
            None => None,
        };
        let mut required =
            |field: &'static str, value: &Option<String>| match value.as_deref().map(str::trim) {
                Some(v) if v.len() > MAX_ID_LENGTH => {
                    problems.push((field, format!("must be at most {MAX_ID_LENGTH} characters")));
                    String::new()
                }
                Some(v) if !v.is_empty() => v.to_owned(),
                _ => {
                    problems.push((
                        field,
                        "is required and must be a non-empty string".to_owned(),
                    ));
                    String::new()
                }
            };
        let definition_text = required("taskDefinitionId", &raw.task_definition_id);
        let workflow_instance_id = required("workflowInstanceId", &raw.workflow_instance_id);
        let step_id = required("stepId", &raw.step_id);
        let definition = if definition_text.is_empty() {
            None
        } else {
            DefinitionRef::parse(&definition_text)
                .map_err(|m| problems.push(("taskDefinitionId", m)))
                .ok()
        };
        let priority = raw.priority.unwrap_or(0);
        if !(0..=MAX_PRIORITY).contains(&priority) {
            problems.push((
                "priority",
                format!("must be between 0 and {MAX_PRIORITY}, got {priority}"),
            ));
        }
        match (&raw.input, &raw.input_ref) {
            (None, None) => problems.push((
                "input",
                "is required (use {} for none, or inputRef)".to_owned(),
            )),
            (Some(_), Some(_)) => {
                problems.push(("inputRef", "cannot come with input: give one".to_owned()))
            }
            (None, Some(at)) if at.bucket.is_empty() || at.key.is_empty() => {
                problems.push(("inputRef", "needs a bucket and a key".to_owned()))
            }
            _ => {}
        }
        if let Some(Err(m)) = raw.task_token.as_deref().map(check_task_token) {
            problems.push(("taskToken", m));
        }
        let traceparent = match raw.traceparent.as_deref() {
            None => None,
            Some(text) => match super::trace::traceparent(text) {
                Some(w3c) => Some(w3c),
                None => {
                    problems.push((
                        "traceparent",
                        "must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>) or an X-Ray trace header".to_owned(),
                    ));
                    None
                }
            },
        };
        let callback_envelope = match raw.callback_output.as_deref() {
            None | Some("output") => false,
            Some("envelope") => true,
            Some(other) => {
                problems.push((
                    "callbackOutput",
                    format!("must be \"output\" or \"envelope\", got {other:?}"),
                ));
                false
            }
        };
        match definition {
            Some(definition) if problems.is_empty() => Ok(Self {
                task_instance_id,
                definition,
                workflow_instance_id,
                step_id,
                input: raw.input.unwrap_or(Value::Null),
                input_ref: raw.input_ref,
                priority: priority as i32,
                context: raw.context.unwrap_or(Value::Null),
                task_token: raw.task_token,
                traceparent,
                callback_envelope,
            }),
            _ => {
                let details: Vec<Value> = problems
                    .iter()
                    .map(|(field, message)| json!({ "field": field, "message": message }))
                    .collect();
                let summary: Vec<String> =
                    problems.iter().map(|(f, m)| format!("{f} {m}")).collect();
                Err(RejectedRequest {
                    error: TaskError::new(
                        VALIDATION_ERROR,
                        format!("invalid execution request: {}", summary.join("; ")),
                    )
                    .with_details(json!({ "problems": details })),
                    identity: identity_of(&object),
                })
            }
        }
    }
}

/// Unwraps `{ "detail-type": "task.requested", "detail": {...} }`.
/// A request as a bus rule forwards it (the whole event): its `detail`.
pub fn unwrap_event(value: Value) -> Value {
    match value {
        Value::Object(mut o)
            if o.contains_key("detail-type") && o.get("detail").is_some_and(Value::is_object) =>
        {
            o.remove("detail").unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// A request identifies a task when it names its workflow instance and step:
/// then the orchestrator can be told about the failure.
fn identity_of(object: &Map<String, Value>) -> Option<RequestIdentity> {
    let text = |k: &str| {
        object
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= MAX_ID_LENGTH)
    };
    let task_instance_id = match text("taskInstanceId") {
        Some(id) => Some(TaskInstanceId::parse(id).ok()?),
        None => None,
    };
    Some(RequestIdentity {
        task_instance_id,
        workflow_instance_id: text("workflowInstanceId")?.to_owned(),
        step_id: text("stepId")?.to_owned(),
        definition_name: text("taskDefinitionId").unwrap_or("").to_owned(),
        input: object.get("input").cloned().unwrap_or(Value::Null),
        task_token: object
            .get("taskToken")
            .and_then(Value::as_str)
            .filter(|t| check_task_token(t).is_ok())
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_may_carry_its_trace_and_ask_for_the_envelope() {
        let parsed = |extra: Value| {
            let mut body = json!({ "taskDefinitionId": "d", "workflowInstanceId": "wf", "stepId": "s", "input": {} });
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            ExecutionRequest::parse(body)
        };
        let xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let request = parsed(json!({ "traceparent": xray, "callbackOutput": "envelope" })).unwrap();
        assert_eq!(
            request.traceparent.as_deref(),
            Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
        );
        assert!(request.callback_envelope);
        assert!(!parsed(json!({})).unwrap().callback_envelope);
        let refused =
            parsed(json!({ "traceparent": "nope", "callbackOutput": "all" })).unwrap_err();
        assert!(
            refused.error.message.contains("traceparent"),
            "{}",
            refused.error.message
        );
        assert!(
            refused.error.message.contains("callbackOutput"),
            "{}",
            refused.error.message
        );
    }

    #[test]
    fn a_full_request_parses() {
        let r = ExecutionRequest::parse_message(
            r#"{"taskDefinitionId":"double:2","workflowInstanceId":"wf","stepId":"s","input":{"n":1},"priority":5}"#,
        )
        .unwrap();
        assert_eq!(r.definition.version, Some(2));
        assert_eq!(r.priority, 5);
        assert_eq!(r.task_instance_id, None);
    }

    #[test]
    fn an_eventbridge_envelope_is_unwrapped() {
        let body = json!({ "detail-type": "task.requested", "source": "orchestrator",
            "detail": { "taskDefinitionId": "double", "workflowInstanceId": "wf", "stepId": "s", "input": {} } });
        assert!(ExecutionRequest::parse_message(&body.to_string()).is_ok());
    }

    #[test]
    fn malformed_json_identifies_nothing() {
        let r = ExecutionRequest::parse_message("{not json").unwrap_err();
        assert_eq!(r.error.code, VALIDATION_ERROR);
        assert!(r.identity.is_none());
    }

    #[test]
    fn missing_fields_are_all_named_and_the_task_identified_when_possible() {
        let r = ExecutionRequest::parse_message(
            r#"{"workflowInstanceId":"wf","stepId":"s","priority":99}"#,
        )
        .unwrap_err();
        assert!(
            r.error.message.contains("taskDefinitionId is required"),
            "{}",
            r.error.message
        );
        assert!(r.error.message.contains("priority must be between 0 and 9"));
        assert!(r.error.message.contains("input is required"));
        assert_eq!(r.identity.unwrap().workflow_instance_id, "wf");
        let r = ExecutionRequest::parse_message(r#"{"taskDefinitionId":"x"}"#).unwrap_err();
        assert!(r.identity.is_none());
    }

    #[test]
    fn a_task_token_is_kept_and_checked() {
        let r = ExecutionRequest::parse_message(
            r#"{"taskDefinitionId":"double","workflowInstanceId":"wf","stepId":"s","input":{},"taskToken":"AQB8token"}"#,
        )
        .unwrap();
        assert_eq!(r.task_token.as_deref(), Some("AQB8token"));
        let r = ExecutionRequest::parse_message(
            r#"{"taskDefinitionId":"double","workflowInstanceId":"wf","stepId":"s","input":{},"taskToken":""}"#,
        )
        .unwrap_err();
        assert!(
            r.error.message.contains("taskToken must be"),
            "{}",
            r.error.message
        );
        // A rejected request still answers its step, but never says the token.
        let r = ExecutionRequest::parse_message(
            r#"{"workflowInstanceId":"wf","stepId":"s","taskToken":"AQB8token"}"#,
        )
        .unwrap_err();
        let identity = r.identity.unwrap();
        assert_eq!(identity.task_token.as_deref(), Some("AQB8token"));
        assert!(
            !serde_json::to_string(&identity)
                .unwrap()
                .contains("AQB8token")
        );
        assert!(!r.error.message.contains("AQB8token"));
    }

    #[test]
    fn wrong_types_are_named_by_path() {
        let r = ExecutionRequest::parse_message(
            r#"{"taskDefinitionId":5,"workflowInstanceId":"wf","stepId":"s","input":{}}"#,
        )
        .unwrap_err();
        assert!(
            r.error
                .message
                .starts_with("taskDefinitionId: invalid type"),
            "{}",
            r.error.message
        );
    }
}
