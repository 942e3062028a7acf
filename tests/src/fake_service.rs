//! An external service on 127.0.0.1 for integration tests: endpoints for
//! each auth mode, flaky and throttling ones, one that hangs, one that
//! echoes the request, and one whose health the test switches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};

pub const API_KEY: &str = "key-7f3c9a1e55b2";
pub const BEARER: &str = "bearer-0d4e8b27c6a9";
pub const BASIC_USER: &str = "svc-user";
pub const BASIC_PASSWORD: &str = "pw-93b1c04f7e2d";
pub const CLIENT_ID: &str = "tel-client";
pub const CLIENT_SECRET: &str = "cs-5a8e1f0b9d37";

#[derive(Default)]
pub struct Service {
    /// Calls per path.
    pub calls: Mutex<HashMap<String, Vec<Instant>>>,
    pub tokens_issued: AtomicUsize,
    /// The token the resource endpoint accepts now.
    pub current_token: Mutex<String>,
    /// `/health`: 503 while down.
    pub down: AtomicBool,
    pub in_flight: AtomicUsize,
    pub most_in_flight: AtomicUsize,
    /// Seconds each `/health` call takes.
    pub slow_ms: AtomicUsize,
    /// The `Authorization` header of every `/echo` call (empty when none).
    pub echo_authorizations: Mutex<Vec<String>>,
    /// The body of every `/hooks` post (a chat's incoming webhook).
    pub hook_posts: Mutex<Vec<Value>>,
}

impl Service {
    pub fn count(&self, path: &str) -> usize {
        self.calls.lock().unwrap().get(path).map_or(0, Vec::len)
    }

    pub fn times(&self, path: &str) -> Vec<Instant> {
        self.calls
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    /// The next resource call with the current token gets a 401.
    pub fn revoke_token(&self) {
        *self.current_token.lock().unwrap() = "revoked".into();
    }
}

type S = State<Arc<Service>>;

fn note(s: &Service, path: &str) {
    s.calls
        .lock()
        .unwrap()
        .entry(path.to_owned())
        .or_default()
        .push(Instant::now());
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "error": "unauthorized" })),
    )
        .into_response()
}

fn ok(headers: &HeaderMap, extra: Value) -> Response {
    axum::Json(
        json!({ "ok": true, "idempotencyKey": header(headers, "idempotency-key"), "extra": extra }),
    )
    .into_response()
}

async fn api_key_header(State(s): S, headers: HeaderMap) -> Response {
    note(&s, "/api-key-header");
    if header(&headers, "x-api-key") != API_KEY {
        return unauthorized();
    }
    ok(&headers, Value::Null)
}

async fn api_key_query(State(s): S, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    note(&s, "/api-key-query");
    if !q
        .unwrap_or_default()
        .split('&')
        .any(|p| p == format!("api_key={API_KEY}"))
    {
        return unauthorized();
    }
    ok(&headers, Value::Null)
}

async fn bearer(State(s): S, headers: HeaderMap) -> Response {
    note(&s, "/bearer");
    if header(&headers, "authorization") != format!("Bearer {BEARER}") {
        return unauthorized();
    }
    ok(&headers, Value::Null)
}

async fn basic(State(s): S, headers: HeaderMap) -> Response {
    note(&s, "/basic");
    use base64::Engine;
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{BASIC_USER}:{BASIC_PASSWORD}"));
    if header(&headers, "authorization") != format!("Basic {expected}") {
        return unauthorized();
    }
    ok(&headers, Value::Null)
}

async fn token(State(s): S, headers: HeaderMap, body: String) -> Response {
    note(&s, "/oauth/token");
    use base64::Engine;
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    if header(&headers, "authorization") != format!("Basic {expected}")
        || !body.contains("grant_type=client_credentials")
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    let n = s.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    let token = format!("access-token-{n}-e1b7");
    *s.current_token.lock().unwrap() = token.clone();
    axum::Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": 3600 }))
        .into_response()
}

async fn oauth_resource(State(s): S, headers: HeaderMap) -> Response {
    note(&s, "/oauth/resource");
    let current = s.current_token.lock().unwrap().clone();
    if header(&headers, "authorization") != format!("Bearer {current}") {
        return unauthorized();
    }
    ok(&headers, Value::Null)
}

/// 500 for the first call with each Idempotency-Key, then 200.
async fn flaky(State(s): S, headers: HeaderMap) -> Response {
    note(&s, "/flaky");
    let key = header(&headers, "idempotency-key").to_owned();
    let seen = s
        .calls
        .lock()
        .unwrap()
        .entry(format!("flaky:{key}"))
        .or_default()
        .len();
    note(&s, &format!("flaky:{key}"));
    if seen == 0 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "temporarily broken").into_response();
    }
    ok(&headers, json!({ "attempt": seen + 1 }))
}

/// 429 with Retry-After: 2 the first time, then 200.
async fn throttled(State(s): S, headers: HeaderMap) -> Response {
    note(&s, "/throttled");
    if s.count("/throttled") == 1 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "2")],
            "slow down",
        )
            .into_response();
    }
    ok(&headers, Value::Null)
}

async fn bad_request(State(s): S) -> Response {
    note(&s, "/bad-request");
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": "the field `amount` is required" })),
    )
        .into_response()
}

async fn hang(State(s): S) -> Response {
    note(&s, "/hang");
    tokio::time::sleep(Duration::from_secs(30)).await;
    "too late".into_response()
}

async fn health(State(s): S, headers: HeaderMap) -> Response {
    note(&s, "/health");
    let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    s.most_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(
        s.slow_ms.load(Ordering::SeqCst) as u64
    ))
    .await;
    s.in_flight.fetch_sub(1, Ordering::SeqCst);
    if s.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
    }
    ok(&headers, Value::Null)
}

/// Everything about the request, for mapping round trips.
async fn echo(
    State(s): S,
    Path(rest): Path<String>,
    method: axum::http::Method,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    note(&s, "/echo");
    s.echo_authorizations
        .lock()
        .unwrap()
        .push(header(&headers, "authorization").to_owned());
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let response = json!({
        "method": method.as_str(), "path": format!("/echo/{rest}"), "query": q.unwrap_or_default(),
        "workflow": header(&headers, "x-workflow"), "traceparent": header(&headers, "traceparent"), "body": body,
        "order": { "id": "srv-77", "state": "accepted" }
    });
    (
        StatusCode::CREATED,
        [("etag", "\"v3\"")],
        axum::Json(response),
    )
        .into_response()
}

async fn to_metadata(State(s): S) -> Response {
    note(&s, "/redirect-to-metadata");
    (
        StatusCode::FOUND,
        [("location", "http://169.254.169.254/latest/meta-data/")],
        "",
    )
        .into_response()
}

/// `/redirect?to=<url>`: a 307 to `to` (method and body kept).
async fn redirect(State(s): S, RawQuery(q): RawQuery) -> Response {
    note(&s, "/redirect");
    let to = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "to")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    (StatusCode::TEMPORARY_REDIRECT, [("location", to)], "").into_response()
}

/// `/huge?bytes=N`: a JSON string of about N bytes, streamed.
async fn huge(State(s): S, RawQuery(q): RawQuery) -> Response {
    note(&s, "/huge");
    let bytes: usize = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "bytes")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let chunk = "x".repeat(64 * 1024);
    let chunks = bytes / chunk.len();
    let body = futures::stream::iter(
        std::iter::once(Ok::<_, std::io::Error>(Bytes::from_static(b"\"")))
            .chain((0..chunks).map(move |_| Ok(Bytes::from(chunk.clone()))))
            .chain(std::iter::once(Ok(Bytes::from_static(b"\"")))),
    );
    (
        [("content-type", "application/json")],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

/// A chat's incoming webhook: keeps what was posted.
async fn hook(State(service): State<Arc<Service>>, body: Bytes) -> StatusCode {
    let posted = serde_json::from_slice(&body).unwrap_or(Value::Null);
    service.hook_posts.lock().unwrap().push(posted);
    StatusCode::OK
}

/// Serves the fake service on a free local port; returns its base URL.
pub async fn start() -> (String, Arc<Service>) {
    let service = Arc::new(Service::default());
    let app = Router::new()
        .route("/api-key-header", get(api_key_header))
        .route("/api-key-query", get(api_key_query))
        .route("/bearer", get(bearer))
        .route("/basic", get(basic))
        .route("/oauth/token", post(token))
        .route("/oauth/resource", get(oauth_resource))
        .route("/flaky", post(flaky))
        .route("/throttled", post(throttled))
        .route("/bad-request", post(bad_request))
        .route("/hang", get(hang))
        .route("/health", get(health))
        .route("/echo/{*rest}", any(echo))
        .route("/redirect-to-metadata", get(to_metadata))
        .route("/redirect", any(redirect))
        .route("/huge", get(huge))
        .route("/hooks", post(hook))
        .with_state(service.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, service)
}
