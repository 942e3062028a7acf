//! The executor's other runners end to end: Lambda (against a local server
//! that speaks the Lambda Invoke API) and system functions with permissions.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tel_aws::lambda::LambdaRunner;
use tel_tests::{TestStack, request};

const WAIT: Duration = Duration::from_secs(20);

/// Answers `POST /2015-03-31/functions/{name}/invocations` like Lambda:
/// `echo` returns its payload, `broken` reports an unhandled function error.
async fn invoke(
    State(calls): State<Arc<AtomicUsize>>,
    Path(name): Path<String>,
    body: Bytes,
) -> (StatusCode, HeaderMap, String) {
    calls.fetch_add(1, Ordering::SeqCst);
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut headers = HeaderMap::new();
    match name.as_str() {
        "echo" => (
            StatusCode::OK,
            headers,
            json!({ "echoed": payload, "by": "echo" }).to_string(),
        ),
        "broken" => {
            headers.insert(
                "X-Amz-Function-Error",
                HeaderValue::from_static("Unhandled"),
            );
            (
                StatusCode::OK,
                headers,
                json!({ "errorType": "Error", "errorMessage": "database unreachable" }).to_string(),
            )
        }
        _ => (
            StatusCode::NOT_FOUND,
            headers,
            json!({ "Type": "User", "message": format!("Function not found: {name}") }).to_string(),
        ),
    }
}

async fn lambda_server() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

#[tokio::test]
async fn lambda_implementations_invoke_the_function_and_take_its_result() {
    let t = TestStack::new().await.unwrap();
    let (url, calls) = lambda_server().await;
    for (name, function) in [("remote-echo", "echo"), ("remote-broken", "broken")] {
        t.register(json!({
            "name": name, "type": "automated",
            "implementation": { "kind": "lambda", "functionName": function },
            "retry": { "maxAttempts": 2, "initialDelaySeconds": 0 }
        }))
        .await
        .unwrap();
    }
    let lambda = aws_sdk_lambda::config::Builder::from(&t.sdk)
        .endpoint_url(&url)
        .build();
    let runners = tel_runners::standard(&t.sdk, &t.engine).with(Arc::new(LambdaRunner::new(
        aws_sdk_lambda::Client::from_conf(lambda),
    )));
    let mut events = t.watch_events().await.unwrap();
    let runner = t.run_pipeline_with(runners).unwrap();
    let echo = request("remote-echo", json!({ "n": 7 }));
    let broken = request("remote-broken", json!({}));
    t.send_requests(&[echo.to_string(), broken.to_string()])
        .await
        .unwrap();

    let done = events
        .wait_for_type("task.completed", echo["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(
        done["detail"]["output"],
        json!({ "echoed": { "n": 7 }, "by": "echo" })
    );
    let failed = events
        .wait_for_type("task.failed", broken["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    let error = &failed["detail"]["error"];
    assert_eq!(error["code"], "EXECUTION_ERROR");
    assert_eq!(error["details"]["errorMessage"], "database unreachable");
    assert_eq!(error["details"]["functionError"], "Unhandled");
    assert_eq!(
        failed["detail"]["attempts"], 2,
        "function errors are retried per policy"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    runner.stop().await;
}

#[tokio::test]
async fn system_functions_need_permission_from_definition_and_deployment() {
    let settings = tel_engine::config::Settings {
        system_permissions: vec!["events:publish".into()],
        ..Default::default()
    };
    let overrides = [("VisibilityTimeoutSeconds".to_owned(), "2".to_owned())].into();
    let t = TestStack::with(overrides, settings).await.unwrap();
    let publish = |name: &str, permissions: Value| {
        json!({
            "name": name, "type": "automated",
            "implementation": { "kind": "system", "function": "events.publish", "permissions": permissions, "config": { "source": "billing" } },
            "retry": { "maxAttempts": 1 }
        })
    };
    t.register(publish("announce", json!(["events:publish"])))
        .await
        .unwrap();
    t.register(publish("announce-ungranted", json!([])))
        .await
        .unwrap();
    t.register(json!({
        "name": "forward", "type": "automated",
        "implementation": { "kind": "system", "function": "queue.send", "permissions": ["queue:send"], "config": { "queueUrl": "https://example.invalid/q" } },
        "retry": { "maxAttempts": 1 }
    }))
    .await
    .unwrap();
    t.register(json!({
        "name": "reshape", "type": "automated",
        "implementation": { "kind": "system", "function": "json.transform", "config": { "mapping": { "customer": "/order/customer/id", "total": "/order/total" } } }
    }))
    .await
    .unwrap();
    let mut custom = tel_tests::EventWatcher::subscribe(
        &t.sdk,
        &t.stack.event_bus_name,
        r#"{"source":["billing"]}"#,
    )
    .await
    .unwrap();
    let (mut events, runner) = t.run_watched().await;

    let granted = request(
        "announce",
        json!({ "detailType": "invoice.issued", "detail": { "invoice": 42 } }),
    );
    let ungranted = request(
        "announce-ungranted",
        json!({ "detailType": "invoice.issued" }),
    );
    let not_allowed = request("forward", json!({ "body": "hi" }));
    let reshape = request(
        "reshape",
        json!({ "order": { "customer": { "id": "c-9" }, "total": 12.5 } }),
    );
    t.send_requests(&[
        granted.to_string(),
        ungranted.to_string(),
        not_allowed.to_string(),
        reshape.to_string(),
    ])
    .await
    .unwrap();

    events
        .wait_for_type("task.completed", granted["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    let published = custom
        .wait_for_type("invoice.issued", None, WAIT)
        .await
        .unwrap();
    assert_eq!(published["detail"], json!({ "invoice": 42 }));

    let denied = events
        .wait_for_type("task.failed", ungranted["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(denied["detail"]["error"]["code"], "PERMISSION_DENIED");
    assert_eq!(
        denied["detail"]["error"]["details"]["required"],
        json!(["events:publish"])
    );
    // Granted by the definition but not allowed by this deployment.
    let denied = events
        .wait_for_type("task.failed", not_allowed["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(denied["detail"]["error"]["code"], "PERMISSION_DENIED");
    assert_eq!(
        denied["detail"]["error"]["details"]["allowedByDeployment"],
        json!(["events:publish"])
    );

    let done = events
        .wait_for_type("task.completed", reshape["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(
        done["detail"]["output"],
        json!({ "customer": "c-9", "total": 12.5 })
    );
    runner.stop().await;
}
