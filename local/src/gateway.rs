//! A stand-in for API Gateway's HTTP API in front of a deployed `api`
//! function, for LocalStack community, which does not emulate it. It does
//! what the template's HTTP API does: routes without the authorizer
//! (`/openapi.json`, `/asyncapi.json`, `/ui`, `/ui/{file}`) pass as they
//! are; every other request needs a bearer token the JWT authorizer would
//! accept (signature, expiry, issuer and audience), whose claims travel to
//! the function flattened as API Gateway flattens them. The request goes to
//! the function as an HTTP API (payload 2.0) event by Lambda Invoke, and its
//! answer comes back as the HTTP response. The function itself runs as it
//! does on AWS, in `gateway` mode, trusting only the claims in the event.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use aws_sdk_lambda::primitives::Blob;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};
use tel_api::auth::AuthConfig;

/// What the gateway needs: the function to invoke and how to check tokens.
#[derive(Clone)]
pub struct Gateway {
    lambda: aws_sdk_lambda::Client,
    function: String,
    auth: Arc<AuthConfig>,
}

/// Routes the template serves without the authorizer.
fn is_public(method: &Method, path: &str) -> bool {
    method == Method::GET
        && (matches!(path, "/openapi.json" | "/asyncapi.json" | "/ui")
            || path
                .strip_prefix("/ui/")
                .is_some_and(|file| !file.contains('/')))
}

/// A claim as API Gateway passes it to the function: text; numbers and
/// booleans as their text; a list as `[a b c]`; anything else as JSON.
fn flattened(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(flattened).collect();
            format!("[{}]", items.join(" "))
        }
        other => other.to_string(),
    }
}

fn unauthorized() -> Response {
    // API Gateway's own answer when its authorizer refuses.
    (
        StatusCode::UNAUTHORIZED,
        [("www-authenticate", "Bearer")],
        axum::Json(json!({ "message": "Unauthorized" })),
    )
        .into_response()
}

impl Gateway {
    pub fn new(sdk: &aws_config::SdkConfig, function: impl Into<String>, auth: AuthConfig) -> Self {
        Self {
            lambda: aws_sdk_lambda::Client::new(sdk),
            function: function.into(),
            auth: Arc::new(auth),
        }
    }

    /// The authorizer's verdict: the token's claims, flattened.
    fn claims(&self, headers: &HeaderMap) -> Option<Map<String, Value>> {
        let header = headers.get("authorization")?.to_str().ok()?;
        let token = header.strip_prefix("Bearer ")?.trim();
        let claims = self.auth.verify(token).ok()?;
        Some(
            claims
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(flattened(v))))
                .collect(),
        )
    }

    /// The payload 2.0 event for one request.
    fn event(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
        source_ip: &str,
        claims: Option<Map<String, Value>>,
    ) -> Value {
        let mut joined: HashMap<String, Vec<&str>> = HashMap::new();
        let mut cookies = Vec::new();
        for (name, value) in headers {
            let Ok(value) = value.to_str() else { continue };
            if name == "cookie" {
                cookies.extend(value.split("; ").map(str::to_owned));
            } else {
                joined
                    .entry(name.as_str().to_owned())
                    .or_default()
                    .push(value);
            }
        }
        let headers: Map<String, Value> = joined
            .into_iter()
            .map(|(k, v)| (k, Value::String(v.join(","))))
            .collect();
        let query = uri.query().unwrap_or_default();
        let mut parameters: Map<String, Value> = Map::new();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let entry = parameters
                .entry(key.into_owned())
                .or_insert_with(|| Value::String(String::new()));
            let joined = match entry.as_str() {
                Some("") => value.into_owned(),
                Some(before) => format!("{before},{value}"),
                None => value.into_owned(),
            };
            *entry = Value::String(joined);
        }
        let (text, encoded) = match std::str::from_utf8(body) {
            Ok(text) => (text.to_owned(), false),
            Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
        };
        let now = chrono::Utc::now();
        let mut context = json!({
            "accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1",
            "domainPrefix": "local", "requestId": uuid_like(&now), "routeKey": "$default",
            "stage": "$default", "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
            "http": {
                "method": method.as_str(), "path": uri.path(), "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent").cloned().unwrap_or(Value::String(String::new())),
            },
        });
        if let Some(claims) = claims {
            context["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } });
        }
        let mut event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": uri.path(),
            "rawQueryString": query, "headers": headers, "requestContext": context,
            "isBase64Encoded": encoded,
        });
        if !cookies.is_empty() {
            event["cookies"] = json!(cookies);
        }
        if !parameters.is_empty() {
            event["queryStringParameters"] = Value::Object(parameters);
        }
        if !body.is_empty() {
            event["body"] = Value::String(text);
        }
        event
    }

    /// Invokes the function with `event` and turns its answer into a response.
    async fn invoke(&self, event: &Value) -> Result<Response> {
        let out = self
            .lambda
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(serde_json::to_vec(event)?))
            .send()
            .await?;
        let payload: Value = out
            .payload()
            .map(|p| serde_json::from_slice(p.as_ref()))
            .transpose()?
            .unwrap_or(Value::Null);
        if out.function_error().is_some() {
            tracing::warn!(error = %payload, "the api function failed");
            // API Gateway's answer to a function error.
            return Ok((
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({ "message": "Internal Server Error" })),
            )
                .into_response());
        }
        Ok(response_of(&payload))
    }
}

/// A request id in the shape API Gateway gives.
fn uuid_like(now: &chrono::DateTime<chrono::Utc>) -> String {
    format!("local-{}", now.timestamp_nanos_opt().unwrap_or_default())
}

/// The function's payload 2.0 answer as an HTTP response.
fn response_of(payload: &Value) -> Response {
    let status = payload["statusCode"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    let body = match (
        payload["body"].as_str(),
        payload["isBase64Encoded"].as_bool(),
    ) {
        (Some(text), Some(true)) => base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_default(),
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, _) => Vec::new(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in payload["headers"].as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(HeaderValue::from_str),
        ) {
            headers.insert(name, value);
        }
    }
    for cookie in payload["cookies"].as_array().into_iter().flatten() {
        if let Some(Ok(value)) = cookie.as_str().map(HeaderValue::from_str) {
            headers.append("set-cookie", value);
        }
    }
    response
}

async fn handle(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let claims = if is_public(&method, uri.path()) {
        None
    } else {
        match gateway.claims(&headers) {
            Some(claims) => Some(claims),
            None => return unauthorized(),
        }
    };
    let event = gateway.event(
        &method,
        &uri,
        &headers,
        &body,
        &peer.ip().to_string(),
        claims,
    );
    match gateway.invoke(&event).await {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "invoking the api function failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "message": "Service Unavailable" })),
            )
                .into_response()
        }
    }
}

/// Serves the gateway on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    gateway: Gateway,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().fallback(handle).with_state(gateway);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_flattened_as_api_gateway_flattens_them() {
        assert_eq!(flattened(&json!("u-1")), "u-1");
        assert_eq!(flattened(&json!(1700000000)), "1700000000");
        assert_eq!(
            flattened(&json!(["finance", "tel-admins"])),
            "[finance tel-admins]"
        );
    }

    #[test]
    fn only_the_templates_open_routes_skip_the_authorizer() {
        for path in ["/openapi.json", "/asyncapi.json", "/ui", "/ui/app.js"] {
            assert!(is_public(&Method::GET, path), "{path}");
        }
        for (method, path) in [
            (Method::GET, "/tasks"),
            (Method::GET, "/ui/a/b"),
            (Method::POST, "/ui"),
            (Method::GET, "/admin/stats"),
        ] {
            assert!(!is_public(&method, path), "{method} {path}");
        }
    }

    #[test]
    fn the_functions_answer_becomes_the_response() {
        let response = response_of(&json!({
            "statusCode": 201, "headers": { "content-type": "application/json" },
            "body": "{\"ok\":true}", "isBase64Encoded": false, "cookies": ["a=1"]
        }));
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["set-cookie"], "a=1");
    }
}
