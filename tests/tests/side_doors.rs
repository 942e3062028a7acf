//! The side doors around the access rules, each tried as an attacker would:
//! one integration's manager reaching another's secret or moving it to a
//! host of their own, credentials following a redirect, a flood of a
//! response, a path value climbing out of its segment, a group name that
//! splits into the admins' group, tokens not valid yet or for another
//! client or keyed with a public key, answers that say
//! whether a name exists, dead letters showing step tokens, 503s naming
//! tel's storage. Every test fails without its guard.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tel_api::auth::{AuthConfig, Verifier};
use tel_api::{ApiState, router};
use tel_core::domain::TaskInstanceId;
use tel_core::integrations::Integration;
use tel_engine::config::Settings;
use tel_tests::api::{Api, As};
use tel_tests::oidc_issuer::FakeIssuer;
use tel_tests::{EventWatcher, TestStack, fake_service, random_name, request};
use tower::ServiceExt;

const WAIT: Duration = Duration::from_secs(30);

/// A stack whose integrations' secrets live under a prefix of its own.
async fn with_secrets() -> (TestStack, String) {
    let prefix = format!("{}/integrations/", random_name("secrets"));
    let settings = Settings {
        integration_secrets_prefix: prefix.clone(),
        ..Default::default()
    };
    let overrides = BTreeMap::from([("VisibilityTimeoutSeconds".into(), "2".into())]);
    (TestStack::with(overrides, settings).await.unwrap(), prefix)
}

async fn outcome(events: &mut EventWatcher, id: &str) -> Value {
    events
        .wait_for(WAIT, |e| {
            (e["detail-type"] == "task.completed" || e["detail-type"] == "task.failed")
                && e["detail"]["taskInstanceId"] == id
        })
        .await
        .unwrap()
}

async fn run(t: &TestStack, events: &mut EventWatcher, definition: &str, input: Value) -> Value {
    let body = request(definition, input);
    t.send_requests(&[body.to_string()]).await.unwrap();
    outcome(events, body["taskInstanceId"].as_str().unwrap()).await
}

#[tokio::test]
async fn an_integration_reads_only_its_own_secrets_and_only_admins_move_it() {
    let (t, prefix) = with_secrets().await;
    let (base, service) = fake_service::start().await;
    const PAYMENTS_SECRET: &str = "payments-secret-6c1d";
    t.create_secret(&format!("{prefix}payments"), PAYMENTS_SECRET)
        .await
        .unwrap();
    t.create_secret(&format!("{prefix}crm"), "crm-secret-9e2a")
        .await
        .unwrap();
    let api = Api::serve(&t).await;
    let (admin, carl) = (As::admin(), As::user("carl", &[]));
    let crm = |auth: &str, extra: Value| {
        let mut spec = json!({
            "name": "crm", "baseUrl": base, "allowPrivateNetworks": true,
            "auth": { "type": "bearer", "secretRef": format!("{prefix}{auth}") },
            "access": { "manage": { "users": ["carl"] } }
        });
        if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
            spec.extend(extra);
        }
        spec
    };
    let put = |who: &As, body: Value| {
        let api = &api;
        let who = who.clone();
        async move {
            api.call(&who, Method::PUT, "/integrations/crm", Some(body))
                .await
        }
    };
    assert_eq!(
        put(&admin, crm("crm", json!({}))).await.0,
        StatusCode::CREATED
    );

    // Another integration's secret: refused to anyone, admins included.
    for who in [&carl, &admin] {
        let (status, body) = put(who, crm("payments", json!({}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], "INVALID_INTEGRATION");
    }
    // Where calls go and how they authenticate: admins only.
    for change in [
        json!({ "baseUrl": "https://collector.evil.example" }),
        json!({ "allowedHosts": ["127.0.0.1", "collector.evil.example"] }),
        json!({ "allowPrivateNetworks": false }),
        json!({ "auth": { "type": "bearer", "secretRef": format!("{prefix}crm/v2") } }),
    ] {
        let (status, body) = put(&carl, crm("crm", change.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{change}: {body}");
    }
    let (status, body) = put(
        &carl,
        crm(
            "crm",
            json!({ "timeouts": { "connectMs": 500, "totalMs": 3000 } }),
        ),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the rest is the manager's: {body}"
    );

    // A version that names another's secret (written around the API) is
    // refused when it runs, before any secret is read or call made.
    let stolen = Integration::parse(crm("payments", json!({}))).unwrap();
    let stolen = t.engine.integrations().register(stolen).await.unwrap();
    t.register(json!({
        "name": "sync", "type": "integration",
        "implementation": { "kind": "http", "integration": stolen.reference(), "request": { "method": "GET", "path": "/echo/sync" } },
        "retry": { "maxAttempts": 1 }
    }))
    .await
    .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let failed = run(&t, &mut events, "sync", json!({})).await;
    assert_eq!(failed["detail-type"], "task.failed", "{failed}");
    assert_eq!(failed["detail"]["error"]["code"], "PERMISSION_DENIED");
    assert_eq!(service.count("/echo"), 0, "no call was made");
    assert!(!failed.to_string().contains(PAYMENTS_SECRET));
    runner.stop().await;
}

#[tokio::test]
async fn credentials_stay_with_their_origin_responses_are_capped_and_paths_stay_put() {
    let (t, prefix) = with_secrets().await;
    let (home, home_service) = fake_service::start().await;
    let (away, away_service) = fake_service::start().await;
    const TOKEN: &str = "bearer-for-home-only-4b7e";
    t.create_secret(&format!("{prefix}home"), TOKEN)
        .await
        .unwrap();
    let integration = Integration::parse(json!({
        "name": "home", "baseUrl": home, "allowPrivateNetworks": true,
        "allowedHosts": ["127.0.0.1"],
        "auth": { "type": "bearer", "secretRef": format!("{prefix}home") }
    }))
    .unwrap();
    t.engine.integrations().register(integration).await.unwrap();
    // Outputs stay small whatever comes back: the cap on reading is its own.
    let response = json!({ "output": "{ bytes: length(body) }" });
    let definition = |name: &str, request: Value, limits: Value| {
        json!({
            "name": name, "type": "integration",
            "implementation": { "kind": "http", "integration": "home", "request": request, "response": response },
            "limits": limits, "retry": { "maxAttempts": 1 }
        })
    };
    t.register(definition(
        "hop",
        json!({ "method": "GET", "path": "/redirect", "query": { "to": "input.to" } }),
        json!({}),
    ))
    .await
    .unwrap();
    t.register(definition(
        "flood",
        json!({ "method": "GET", "path": "/huge", "query": { "bytes": "input.bytes" } }),
        json!({ "maxOutputBytes": 1_000_000 }),
    ))
    .await
    .unwrap();
    t.register(definition(
        "climb",
        json!({ "method": "GET", "path": "/echo/{input.id}/data" }),
        json!({}),
    ))
    .await
    .unwrap();
    let (mut events, runner) = t.run_watched().await;

    // Redirected home, the token goes along; redirected to another origin
    // (another port of an allowed host), it does not.
    let same = run(
        &t,
        &mut events,
        "hop",
        json!({ "to": format!("{home}/echo/back") }),
    )
    .await;
    assert_eq!(same["detail-type"], "task.completed", "{same}");
    let other = run(
        &t,
        &mut events,
        "hop",
        json!({ "to": format!("{away}/echo/away") }),
    )
    .await;
    assert_eq!(other["detail-type"], "task.completed", "{other}");
    assert_eq!(
        *home_service.echo_authorizations.lock().unwrap(),
        vec![format!("Bearer {TOKEN}")]
    );
    assert_eq!(
        *away_service.echo_authorizations.lock().unwrap(),
        vec![String::new()]
    );

    // A response past the output cap is refused as it streams in, though
    // the output mapped from it would be small.
    let flooded = run(&t, &mut events, "flood", json!({ "bytes": 8_000_000 })).await;
    assert_eq!(flooded["detail-type"], "task.failed");
    assert_eq!(flooded["detail"]["error"]["code"], "PAYLOAD_TOO_LARGE");

    // A path value of `..` would leave /echo/: refused before any call.
    let calls = home_service.count("/echo");
    let climbed = run(&t, &mut events, "climb", json!({ "id": ".." })).await;
    assert_eq!(
        climbed["detail"]["error"]["code"], "MAPPING_ERROR",
        "{climbed}"
    );
    assert_eq!(home_service.count("/echo"), calls);
    runner.stop().await;
}

/// An HTTP API (v2) event as API Gateway hands the api function one, with
/// the claims its JWT authorizer verified.
fn gateway_event(path: &str, claims: Value, bearer: Option<&str>) -> String {
    let mut headers = json!({ "host": "api.example" });
    if let Some(token) = bearer {
        headers["authorization"] = json!(format!("Bearer {token}"));
    }
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example",
            "domainPrefix": "api", "requestId": "r-1", "routeKey": "$default", "stage": "$default",
            "time": "03/Dec/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": { "method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test" },
            "authorizer": { "jwt": { "claims": claims, "scopes": null } }
        },
        "isBase64Encoded": false
    })
    .to_string()
}

/// A token whose payload is `claims` (the gateway verified its signature).
fn unsigned_token(claims: &Value) -> String {
    use base64::Engine;
    let part = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    format!(
        "{}.{}.c2lnbmF0dXJl",
        part(&json!({ "alg": "RS256" })),
        part(claims)
    )
}

#[tokio::test]
async fn behind_the_gateway_a_group_is_never_split_into_the_admins() {
    let t = TestStack::new().await.unwrap();
    let auth = AuthConfig {
        verifier: Verifier::Gateway,
        ..AuthConfig::hs256("unused")
    };
    let app = router(ApiState::new(t.engine.clone(), auth));
    let call = |event: String| {
        let app = app.clone();
        async move {
            let request = lambda_http::request::from_str(&event).expect("an HTTP API event");
            app.oneshot(request).await.unwrap().status()
        }
    };
    let exp = chrono::Utc::now().timestamp() + 600;
    // The flattened list claim alone: split on spaces only.
    let flattened =
        json!({ "sub": "mallory", "exp": exp.to_string(), "cognito:groups": "[x,tel-admins]" });
    assert_eq!(
        call(gateway_event("/admin/stats", flattened, None)).await,
        StatusCode::FORBIDDEN
    );
    // With the token the gateway verified, its list as issued: a group
    // whose name holds a space stays one group.
    let issued = json!({ "sub": "mallory", "exp": exp, "cognito:groups": ["ops tel-admins"] });
    let token = unsigned_token(&issued);
    let claims =
        json!({ "sub": "mallory", "exp": exp.to_string(), "cognito:groups": "[ops tel-admins]" });
    assert_eq!(
        call(gateway_event("/admin/stats", claims, Some(&token))).await,
        StatusCode::FORBIDDEN
    );
    // A real admin still is one.
    let admin =
        json!({ "sub": "root", "exp": exp.to_string(), "cognito:groups": "[finance tel-admins]" });
    assert_eq!(
        call(gateway_event("/admin/stats", admin, None)).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_not_valid_yet_is_refused() {
    let issuer = FakeIssuer::start("tel-ui", "ola", "Ola", &["finance"]).await;
    let t = TestStack::new().await.unwrap();
    let api = Api::serve_with(&t, issuer.auth_config()).await;
    let later = chrono::Utc::now().timestamp() + 300;
    let early = As(Some(issuer.token_with(json!({ "nbf": later }))));
    assert_eq!(api.get(&early, "/tasks").await.0, StatusCode::UNAUTHORIZED);
    let now = As(Some(issuer.token()));
    assert_eq!(api.get(&now, "/tasks").await.0, StatusCode::OK);
}

/// A token of the trusted issuer made for another client (no `aud`, or
/// another `client_id`), and one signed with HMAC using the issuer's public
/// key as the secret, are refused; the issuer's access token for this client
/// in Cognito's shape (`client_id`, no `aud`) is taken.
#[tokio::test]
async fn a_token_for_another_client_or_keyed_with_the_public_key_is_refused() {
    let issuer = FakeIssuer::start("tel-ui", "ola", "Ola", &["finance"]).await;
    let t = TestStack::new().await.unwrap();
    let api = Api::serve_with(&t, issuer.auth_config()).await;
    let status = |token: String| {
        let api = &api;
        async move { api.get(&As(Some(token)), "/tasks").await.0 }
    };
    let no_audience = issuer.token_with(json!({ "aud": null }));
    assert_eq!(status(no_audience).await, StatusCode::UNAUTHORIZED);
    let other_client = issuer.token_with(json!({ "aud": null, "client_id": "another-app" }));
    assert_eq!(status(other_client).await, StatusCode::UNAUTHORIZED);
    let this_client = issuer.token_with(json!({ "aud": null, "client_id": "tel-ui" }));
    assert_eq!(status(this_client).await, StatusCode::OK);
    // HS256 keyed with the JWKS key's public `x`, which anyone can read.
    let exp = chrono::Utc::now().timestamp() + 600;
    let claims = json!({ "sub": "ola", "exp": exp, "iss": issuer.url, "aud": "tel-ui" });
    let public_text = "Oba1vjw6ZX8W-qHTkEbXbx9o52_zZXK5vxya6j_ePAM";
    let confused = tel_api::jwt::mint_hs256(public_text.as_bytes(), &claims).unwrap();
    assert_eq!(status(confused).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_refusal_reads_the_same_whether_or_not_the_name_exists() {
    let t = TestStack::new().await.unwrap();
    t.register(json!({
        "name": "payroll", "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default () => ({})" }
    }))
    .await
    .unwrap();
    t.engine
        .integrations()
        .register(
            Integration::parse(json!({ "name": "bank", "baseUrl": "https://bank.example" }))
                .unwrap(),
        )
        .await
        .unwrap();
    let api = Api::serve(&t).await;
    let mallory = As::user("mallory", &[]);
    let answer = |kind: &'static str, name: &'static str| {
        let api = &api;
        let mallory = mallory.clone();
        async move {
            let body = match kind {
                "integrations" => json!({ "name": name, "baseUrl": "https://x.example" }),
                _ => json!({ "name": name, "type": "automated",
                    "implementation": { "kind": "javascript", "source": "export default () => ({})" } }),
            };
            let (status, problem) = api
                .call(
                    &mallory,
                    Method::PUT,
                    &format!("/{kind}/{name}"),
                    Some(body),
                )
                .await;
            let detail = problem["detail"].as_str().unwrap_or_default();
            (status, detail.replace(name, "<name>"))
        }
    };
    for (kind, existing, missing) in [
        ("definitions", "payroll", "nothing-here"),
        ("integrations", "bank", "nothing-there"),
    ] {
        let (a, b) = (answer(kind, existing).await, answer(kind, missing).await);
        assert_eq!(a.0, StatusCode::FORBIDDEN, "{kind}");
        assert_eq!(a, b, "{kind}: the answers tell the names apart");
    }
}

#[tokio::test]
async fn dead_letters_are_listed_without_step_tokens() {
    let t = TestStack::new().await.unwrap();
    let api = Api::serve(&t).await;
    const TOKEN: &str = "AAAAKgAAAAIAAAAAAAAAAfake-step-token-77c1";
    let plain = json!({ "taskDefinitionId": "x", "taskToken": TOKEN });
    let envelope = json!({ "detail-type": "task.requested", "source": "orchestrator", "detail": { "taskToken": TOKEN } });
    let sqs = t.sqs();
    for body in [plain, envelope] {
        sqs.send_message()
            .queue_url(t.queue_url("RequestsDeadLetterQueue"))
            .message_body(body.to_string())
            .send()
            .await
            .unwrap();
    }
    let (status, listing) = api.get(&As::admin(), "/admin/dead-letters").await;
    assert_eq!(status, StatusCode::OK, "{listing}");
    let text = listing.to_string();
    assert!(!text.contains(TOKEN), "{text}");
    assert_eq!(text.matches("<redacted>").count(), 2, "{text}");
}

#[tokio::test]
async fn a_503_names_none_of_tels_storage() {
    let settings = Settings {
        payload_threshold_bytes: 1024,
        ..Default::default()
    };
    let t = TestStack::with(BTreeMap::new(), settings).await.unwrap();
    t.register(json!({
        "name": "hold", "type": "manual", "inputSchema": { "type": "object" },
        "manual": { "assignment": { "strategy": "group", "id": "finance" } }
    }))
    .await
    .unwrap();
    let api = Api::serve(&t).await;
    let body = request("hold", json!({ "text": "y".repeat(5000) }));
    let (status, _) = api.post(&As::admin(), "/tasks", body.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = TaskInstanceId::parse(body["taskInstanceId"].as_str().unwrap()).unwrap();
    let stored = t.task(id).await.unwrap().input_ref.expect("in the bucket");
    let bucket = t.stack.payload_bucket.clone().unwrap();

    // The object is gone: the answer names neither the bucket nor the key.
    tel_aws::s3::client(&t.sdk)
        .delete_object()
        .bucket(&bucket)
        .key(&stored.key)
        .send()
        .await
        .unwrap();
    let (status, problem) = api.get(&As::admin(), &format!("/tasks/{id}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    let text = problem.to_string();
    assert!(
        !text.contains(&bucket) && !text.contains(&stored.key),
        "{text}"
    );

    // The table is gone: nor the table.
    aws_sdk_dynamodb::Client::new(&t.sdk)
        .delete_table()
        .table_name(&t.stack.table_name)
        .send()
        .await
        .unwrap();
    let (status, problem) = api.get(&As::admin(), &format!("/tasks/{id}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert!(
        !problem.to_string().contains(&t.stack.table_name),
        "{problem}"
    );
}
