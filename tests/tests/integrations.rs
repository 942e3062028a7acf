//! Integration tasks over real HTTP: a local server on 127.0.0.1 plays the
//! external service (explicitly allowed by `allowPrivateNetworks`).

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tel_core::domain::TaskDefinition;
use tel_core::integrations::Integration;
use tel_tests::fake_service::{
    self, API_KEY, BASIC_PASSWORD, BASIC_USER, BEARER, CLIENT_ID, CLIENT_SECRET,
};
use tel_tests::{EventWatcher, TestStack, request};

const WAIT: Duration = Duration::from_secs(30);

async fn integration(t: &TestStack, spec: Value) {
    let parsed = Integration::parse(spec).unwrap_or_else(|e| panic!("{e}"));
    t.engine.integrations().register(parsed).await.unwrap();
}

/// An integration task calling `path` with `method`, output the response body.
fn task(name: &str, integration: &str, method: &str, path: &str, retry: Value) -> Value {
    json!({
        "name": name, "type": "integration",
        "implementation": { "kind": "http", "integration": integration, "request": { "method": method, "path": path } },
        "retry": retry
    })
}

async fn run_one(
    t: &TestStack,
    events: &mut EventWatcher,
    definition: &str,
    input: Value,
) -> Value {
    let body = request(definition, input);
    t.send_requests(&[body.to_string()]).await.unwrap();
    let id = body["taskInstanceId"].as_str().unwrap().to_owned();
    events
        .wait_for(WAIT, |e| {
            (e["detail-type"] == "task.completed" || e["detail-type"] == "task.failed")
                && e["detail"]["taskInstanceId"] == id.as_str()
        })
        .await
        .unwrap()
}

/// Everything the process logs, to search for secrets.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_auth_mode_works_and_no_secret_leaks_anywhere() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_writer(|| Capture)
        .with_ansi(false)
        .try_init();
    // Secrets are account-wide: each test's live under a prefix of its own,
    // each integration's under its own name there.
    let prefix = format!("{}/integrations/", tel_tests::random_name("secrets"));
    let settings = tel_engine::config::Settings {
        integration_secrets_prefix: prefix.clone(),
        ..Default::default()
    };
    let overrides = [
        ("VisibilityTimeoutSeconds".to_owned(), "2".to_owned()),
        ("MaxReceiveCount".to_owned(), "3".to_owned()),
    ]
    .into();
    let t = TestStack::with(overrides, settings).await.unwrap();
    let (base, svc) = fake_service::start().await;
    let wrong_key = "key-wrong-4411aa";
    let reference = |name: &str| format!("{prefix}{name}");
    let basic_pair = json!({ "username": BASIC_USER, "password": BASIC_PASSWORD }).to_string();
    for (name, value) in [
        ("key-header", API_KEY),
        ("key-query", API_KEY),
        ("wrong-key", wrong_key),
        ("bearer", BEARER),
        ("basic", basic_pair.as_str()),
        ("oauth", CLIENT_SECRET),
    ] {
        t.create_secret(&reference(name), value).await.unwrap();
    }
    let with = |name: &str, auth: Value| json!({ "name": name, "baseUrl": base, "allowPrivateNetworks": true, "auth": auth });
    integration(&t, with("key-header", json!({ "type": "apiKey", "in": "header", "name": "X-Api-Key", "secretRef": reference("key-header") }))).await;
    integration(&t, with("key-query", json!({ "type": "apiKey", "in": "query", "name": "api_key", "secretRef": reference("key-query") }))).await;
    integration(&t, with("wrong-key", json!({ "type": "apiKey", "in": "query", "name": "api_key", "secretRef": reference("wrong-key") }))).await;
    integration(
        &t,
        with(
            "bearer",
            json!({ "type": "bearer", "secretRef": reference("bearer") }),
        ),
    )
    .await;
    integration(
        &t,
        with(
            "basic",
            json!({ "type": "basic", "secretRef": reference("basic") }),
        ),
    )
    .await;
    integration(&t, with("oauth", json!({ "type": "oauth2ClientCredentials", "tokenUrl": format!("{base}/oauth/token"), "clientId": CLIENT_ID, "secretRef": reference("oauth"), "scopes": ["orders:read"] }))).await;
    let once = json!({ "maxAttempts": 1 });
    for (definition, integration, path) in [
        ("via-key-header", "key-header", "/api-key-header"),
        ("via-key-query", "key-query", "/api-key-query"),
        ("via-wrong-key", "wrong-key", "/api-key-query"),
        ("via-bearer", "bearer", "/bearer"),
        ("via-basic", "basic", "/basic"),
        ("via-oauth", "oauth", "/oauth/resource"),
    ] {
        t.register(task(definition, integration, "GET", path, once.clone()))
            .await
            .unwrap();
    }
    let (mut events, runner) = t.run_watched().await;

    for definition in [
        "via-key-header",
        "via-key-query",
        "via-bearer",
        "via-basic",
        "via-oauth",
        "via-oauth",
    ] {
        let outcome = run_one(&t, &mut events, definition, json!({})).await;
        assert_eq!(
            outcome["detail-type"], "task.completed",
            "{definition}: {outcome}"
        );
        assert_eq!(outcome["detail"]["output"]["ok"], true);
    }
    assert_eq!(
        svc.tokens_issued.load(Ordering::SeqCst),
        1,
        "the token is cached across tasks"
    );
    svc.revoke_token();
    let outcome = run_one(&t, &mut events, "via-oauth", json!({})).await;
    assert_eq!(outcome["detail-type"], "task.completed", "{outcome}");
    assert_eq!(
        svc.tokens_issued.load(Ordering::SeqCst),
        2,
        "a 401 fetched a new token once"
    );
    let refused = run_one(&t, &mut events, "via-wrong-key", json!({})).await;
    assert_eq!(refused["detail-type"], "task.failed");
    assert_eq!(refused["detail"]["error"]["details"]["status"], 401);
    runner.stop().await;

    // The secrets (and the token) appear nowhere: not in the table, the events, the logs or the errors.
    let everything = {
        let scan = aws_sdk_dynamodb::Client::new(&t.sdk)
            .scan()
            .table_name(&t.stack.table_name)
            .send()
            .await
            .unwrap();
        let items: Vec<String> = scan.items().iter().map(|i| format!("{i:?}")).collect();
        let events: Vec<String> = events.seen().iter().map(Value::to_string).collect();
        let logs = String::from_utf8_lossy(&LOGS.lock().unwrap()).to_string();
        assert!(logs.len() > 1000, "the logs were captured");
        format!("{}\n{}\n{logs}", items.join("\n"), events.join("\n"))
    };
    for secret in [
        API_KEY,
        wrong_key,
        BEARER,
        BASIC_PASSWORD,
        CLIENT_SECRET,
        "access-token-1-e1b7",
        "access-token-2-e1b7",
    ] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
}

#[tokio::test]
async fn private_and_metadata_addresses_are_refused_without_allowance() {
    let t = TestStack::new().await.unwrap();
    let (base, _svc) = fake_service::start().await;
    let port = base.rsplit(':').next().unwrap();
    integration(
        &t,
        json!({ "name": "metadata", "baseUrl": "http://169.254.169.254" }),
    )
    .await;
    integration(
        &t,
        json!({ "name": "by-name", "baseUrl": format!("http://localhost:{port}") }),
    )
    .await;
    integration(
        &t,
        json!({ "name": "redirecting", "baseUrl": base, "allowPrivateNetworks": true }),
    )
    .await;
    let once = json!({ "maxAttempts": 1 });
    t.register(task(
        "steal-credentials",
        "metadata",
        "GET",
        "/latest/meta-data/",
        once.clone(),
    ))
    .await
    .unwrap();
    t.register(task("loopback", "by-name", "GET", "/health", once.clone()))
        .await
        .unwrap();
    t.register(task(
        "redirected",
        "redirecting",
        "GET",
        "/redirect-to-metadata",
        once,
    ))
    .await
    .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let metadata = run_one(&t, &mut events, "steal-credentials", json!({})).await;
    let error = &metadata["detail"]["error"];
    assert_eq!(error["code"], "PERMISSION_DENIED", "{metadata}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("169.254.169.254 (a link-local address"),
        "{error}"
    );
    let loopback = run_one(&t, &mut events, "loopback", json!({})).await;
    assert_eq!(
        loopback["detail"]["error"]["code"], "PERMISSION_DENIED",
        "{loopback}"
    );
    assert!(
        loopback["detail"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a loopback address")
    );
    let redirected = run_one(&t, &mut events, "redirected", json!({})).await;
    assert_eq!(
        redirected["detail"]["error"]["code"], "PERMISSION_DENIED",
        "{redirected}"
    );
    assert!(
        redirected["detail"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("host 169.254.169.254 is not in the allowedHosts")
    );
    runner.stop().await;
}

#[tokio::test]
async fn requests_and_outputs_are_mapped_and_mapping_errors_are_clear() {
    let t = TestStack::new().await.unwrap();
    let (base, _svc) = fake_service::start().await;
    integration(&t, json!({ "name": "orders", "baseUrl": format!("{base}/echo"), "allowPrivateNetworks": true })).await;
    t.register(json!({
        "name": "place-order", "type": "integration",
        "implementation": {
            "kind": "http", "integration": "orders",
            "request": {
                "method": "POST", "path": "/customers/{input.customer.id}/orders",
                "query": { "dryRun": "input.dryRun" },
                "headers": { "X-Workflow": "task.workflowInstanceId" },
                "body": "{ lines: input.items[].{sku: sku, qty: quantity} }"
            },
            "response": { "output": "{ orderId: body.order.id, created: status == `201`, etag: headers.etag, sent: body.body, path: body.path, query: body.query }" }
        },
        "retry": { "maxAttempts": 1 }
    }))
    .await
    .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let done = run_one(&t, &mut events, "place-order", json!({ "customer": { "id": "c-42" }, "dryRun": true, "items": [{ "sku": "A-1", "quantity": 3, "price": 9 }] })).await;
    assert_eq!(
        done["detail"]["output"],
        json!({ "orderId": "srv-77", "created": true, "etag": "\"v3\"", "sent": { "lines": [{ "sku": "A-1", "qty": 3 }] }, "path": "/echo/customers/c-42/orders", "query": "dryRun=true" })
    );
    let failed = run_one(&t, &mut events, "place-order", json!({ "items": [] })).await;
    assert_eq!(failed["detail"]["error"]["code"], "MAPPING_ERROR");
    assert_eq!(
        failed["detail"]["error"]["message"],
        "request.path: placeholder {input.customer.id} is null"
    );
    assert_eq!(failed["detail"]["attempts"], 1);
    runner.stop().await;

    let broken = TaskDefinition::parse(json!({
        "name": "broken", "type": "integration",
        "implementation": { "kind": "http", "integration": "orders", "request": { "path": "/x", "query": { "limit": "input.[" } } }
    }))
    .unwrap_err();
    assert_eq!(
        broken.problems[0].path,
        "implementation.request.query.limit"
    );
    assert!(
        broken.problems[0]
            .message
            .contains("not a JMESPath expression")
    );
}

#[tokio::test]
async fn calls_are_held_to_the_integrations_rate_and_concurrency_limits() {
    let t = TestStack::new().await.unwrap();
    let (base, svc) = fake_service::start().await;
    integration(&t, json!({ "name": "limited", "baseUrl": base, "allowPrivateNetworks": true, "limits": { "ratePerSecond": 2, "maxConcurrent": 1 } })).await;
    t.register(task(
        "check",
        "limited",
        "GET",
        "/health",
        json!({ "maxAttempts": 1 }),
    ))
    .await
    .unwrap();
    let (mut events, runner) = t.run_watched().await;
    svc.slow_ms.store(100, Ordering::SeqCst);
    let bodies: Vec<Value> = (0..6).map(|_| request("check", json!({}))).collect();
    t.send_requests(&bodies.iter().map(ToString::to_string).collect::<Vec<_>>())
        .await
        .unwrap();
    for body in &bodies {
        let done = events
            .wait_for_type("task.completed", body["taskInstanceId"].as_str(), WAIT)
            .await
            .unwrap();
        assert_eq!(
            done["detail"]["attempts"], 1,
            "waiting for the limits is not an attempt"
        );
    }
    runner.stop().await;
    let times = svc.times("/health");
    assert_eq!(times.len(), 6);
    // Two calls per one-second window at most: any five calls span more than a second.
    for window in times.windows(5) {
        assert!(
            window[4] - window[0] >= Duration::from_millis(900),
            "{:?}",
            window[4] - window[0]
        );
    }
    assert_eq!(
        svc.most_in_flight.load(Ordering::SeqCst),
        1,
        "one call in flight at a time"
    );
}
