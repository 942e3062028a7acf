//! Data transformation between a task and an external service, in JMESPath
//! (jmespath.org, the `jmespath` crate): the request is built from
//! `{input, context, task}`, the output from `{status, headers, body}` of
//! the response. Every expression is compiled when the definition is
//! registered, so a typo is a registration error, not a failed task.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The HTTP request a task makes, relative to its integration's base URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default = "get")]
    pub method: String,
    /// A path with `{expression}` placeholders, e.g. `/customers/{input.customerId}`.
    #[serde(default)]
    pub path: String,
    /// Query parameters: name → expression (a null result leaves the parameter out).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Headers: name → expression.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The JSON body: an expression (`input.order`, or `{id: input.id, lines: input.items}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

fn get() -> String {
    "GET".to_owned()
}

/// How the task's output is made from the response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResponseSpec {
    /// Evaluated against `{status, headers, body}`; by default the body.
    #[serde(default = "body")]
    pub output: String,
}

fn body() -> String {
    "body".to_owned()
}

impl Default for ResponseSpec {
    fn default() -> Self {
        Self { output: body() }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct MappingError {
    /// Which expression, e.g. `request.query.limit`.
    pub at: String,
    pub message: String,
}

fn compile(at: &str, expression: &str) -> Result<jmespath::Expression<'static>, MappingError> {
    jmespath::compile(expression).map_err(|e| MappingError {
        at: at.to_owned(),
        message: format!("not a JMESPath expression ({expression:?}): {e}"),
    })
}

pub fn evaluate(at: &str, expression: &str, document: &Value) -> Result<Value, MappingError> {
    let result = compile(at, expression)?
        .search(document)
        .map_err(|e| MappingError {
            at: at.to_owned(),
            message: format!("{expression:?} failed: {e}"),
        })?;
    serde_json::to_value(&*result).map_err(|e| MappingError {
        at: at.to_owned(),
        message: e.to_string(),
    })
}

/// A value as it goes into a URL or header: strings as they are, other scalars as JSON text.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The `{expression}` placeholders of a path template, with the text between them.
fn placeholders(template: &str) -> Result<Vec<(bool, &str)>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        parts.push((false, &rest[..open]));
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in {template:?}"))?
            + open;
        parts.push((true, &rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    parts.push((false, rest));
    Ok(parts)
}

/// A request with every expression evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

/// An HTTP method is a token (RFC 9110, section 5.6.2): standard or an
/// extension, as the HTTP client accepts.
fn is_http_method(method: &str) -> bool {
    !method.is_empty()
        && method
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

impl RequestSpec {
    /// Every problem with the spec, for registration.
    pub fn check(&self) -> Vec<MappingError> {
        let mut errors = Vec::new();
        if !is_http_method(&self.method) {
            errors.push(MappingError {
                at: "request.method".into(),
                message: format!("{:?} is not an HTTP method", self.method),
            });
        }
        match placeholders(&self.path) {
            Ok(parts) => errors.extend(
                parts
                    .iter()
                    .filter(|(e, _)| *e)
                    .filter_map(|(_, x)| compile("request.path", x).err()),
            ),
            Err(message) => errors.push(MappingError {
                at: "request.path".into(),
                message,
            }),
        }
        for (kind, map) in [("query", &self.query), ("headers", &self.headers)] {
            errors.extend(
                map.iter()
                    .filter_map(|(name, x)| compile(&format!("request.{kind}.{name}"), x).err()),
            );
        }
        errors.extend(
            self.body
                .iter()
                .filter_map(|x| compile("request.body", x).err()),
        );
        errors
    }

    /// The request for `document` (`{input, context, task}`).
    pub fn build(&self, document: &Value) -> Result<BuiltRequest, MappingError> {
        let mut path = String::new();
        for (is_expression, part) in placeholders(&self.path).map_err(|message| MappingError {
            at: "request.path".into(),
            message,
        })? {
            if !is_expression {
                path.push_str(part);
                continue;
            }
            let value = evaluate("request.path", part, document)?;
            let segment = text(&value).ok_or_else(|| MappingError {
                at: "request.path".into(),
                message: format!("placeholder {{{part}}} is null"),
            })?;
            path.extend(
                url::form_urlencoded::byte_serialize(segment.as_bytes())
                    .map(|s| s.replace('+', "%20")),
            );
        }
        // A value of `.` or `..` would leave its segment once the URL is
        // resolved (`/customers/../admin`); percent-encoding does not help,
        // as `%2e` counts as a dot too. Such a path is refused.
        if path.split('/').any(|segment| {
            let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
            decoded == "." || decoded == ".."
        }) {
            return Err(MappingError {
                at: "request.path".into(),
                message: format!("{path:?} has a `.` or `..` segment"),
            });
        }
        let mut query = Vec::new();
        for (name, expression) in &self.query {
            if let Some(value) = text(&evaluate(
                &format!("request.query.{name}"),
                expression,
                document,
            )?) {
                query.push((name.clone(), value));
            }
        }
        let mut headers = Vec::new();
        for (name, expression) in &self.headers {
            if let Some(value) = text(&evaluate(
                &format!("request.headers.{name}"),
                expression,
                document,
            )?) {
                headers.push((name.clone(), value));
            }
        }
        let body = self
            .body
            .as_ref()
            .map(|x| evaluate("request.body", x, document))
            .transpose()?;
        Ok(BuiltRequest {
            method: self.method.to_uppercase(),
            path,
            query,
            headers,
            body,
        })
    }
}

impl ResponseSpec {
    pub fn check(&self) -> Vec<MappingError> {
        compile("response.output", &self.output)
            .err()
            .into_iter()
            .collect()
    }

    /// The output for a response.
    pub fn output(
        &self,
        status: u16,
        headers: &BTreeMap<String, String>,
        body: &Value,
    ) -> Result<Value, MappingError> {
        evaluate(
            "response.output",
            &self.output,
            &json!({ "status": status, "headers": headers, "body": body }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_is_an_http_token() {
        for method in ["GET", "post", "PROPFIND", "M-SEARCH"] {
            assert!(is_http_method(method), "{method}");
        }
        for method in ["", "GE T", "GET\n", "GET/1", "GÉT"] {
            assert!(!is_http_method(method), "{method:?}");
        }
    }

    fn spec() -> RequestSpec {
        serde_json::from_value(json!({
            "method": "post",
            "path": "/customers/{input.customer.id}/orders",
            "query": { "dryRun": "input.dryRun", "missing": "input.nothing" },
            "headers": { "X-Workflow": "task.workflowInstanceId" },
            "body": "{ lines: input.items[].{sku: sku, qty: quantity}, total: input.total }"
        }))
        .unwrap()
    }

    #[test]
    fn a_request_is_built_from_the_task() {
        let doc = json!({
            "input": { "customer": { "id": "c 42/x" }, "dryRun": true, "total": 12.5, "items": [{ "sku": "A", "quantity": 2, "price": 1 }] },
            "task": { "workflowInstanceId": "wf-9" }
        });
        let built = spec().build(&doc).unwrap();
        assert_eq!(built.method, "POST");
        assert_eq!(built.path, "/customers/c%2042%2Fx/orders");
        assert_eq!(built.query, vec![("dryRun".to_owned(), "true".to_owned())]);
        assert_eq!(
            built.headers,
            vec![("X-Workflow".to_owned(), "wf-9".to_owned())]
        );
        assert_eq!(
            built.body,
            Some(json!({ "lines": [{ "sku": "A", "qty": 2 }], "total": 12.5 }))
        );
    }

    #[test]
    fn a_value_cannot_leave_its_path_segment() {
        for id in ["..", "."] {
            let doc = json!({ "input": { "customer": { "id": id } } });
            let err = spec().build(&doc).unwrap_err();
            assert_eq!(err.at, "request.path", "{id}");
        }
        // Its own percent signs are encoded, so it cannot spell a dot either.
        for (id, path) in [
            ("..x", "/customers/..x/orders"),
            ("%2e%2E", "/customers/%252e%252E/orders"),
        ] {
            let doc = json!({ "input": { "customer": { "id": id } } });
            assert_eq!(spec().build(&doc).unwrap().path, path);
        }
    }

    #[test]
    fn the_output_is_built_from_status_headers_and_body() {
        let response: ResponseSpec = serde_json::from_value(json!({ "output": "{ id: body.order.id, created: status == `201`, etag: headers.etag }" })).unwrap();
        let headers = BTreeMap::from([("etag".to_owned(), "\"v1\"".to_owned())]);
        let out = response
            .output(201, &headers, &json!({ "order": { "id": "o-1" } }))
            .unwrap();
        assert_eq!(
            out,
            json!({ "id": "o-1", "created": true, "etag": "\"v1\"" })
        );
    }

    #[test]
    fn mapping_errors_name_the_expression() {
        let err = spec().build(&json!({ "input": {} })).unwrap_err();
        assert_eq!(
            err.to_string(),
            "request.path: placeholder {input.customer.id} is null"
        );
        let mut broken = spec();
        broken.query.insert("bad".into(), "input.[".into());
        broken.method = "FETCH ME".into();
        let errors = broken.check();
        assert_eq!(
            errors.iter().map(|e| e.at.as_str()).collect::<Vec<_>>(),
            vec!["request.method", "request.query.bad"]
        );
        assert!(
            errors[1].message.contains("not a JMESPath expression"),
            "{}",
            errors[1].message
        );
    }
}
