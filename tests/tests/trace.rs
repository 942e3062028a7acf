//! One trace from request to callout: the `traceparent` a caller sends with
//! its request is the task's trace id on every lifecycle event, goes out on
//! the task's HTTP integration call, and is shown with the task's timeline.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tel_core::integrations::definition::Integration;
use tel_tests::api::{Api, As};
use tel_tests::{TestStack, fake_service};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_requests_traceparent_is_on_every_event_the_http_call_and_the_tasks_view() {
    let t = TestStack::new().await.unwrap();
    let (base, _svc) = fake_service::start().await;
    let orders = json!({ "name": "orders", "baseUrl": format!("{base}/echo"), "allowPrivateNetworks": true });
    let orders = Integration::parse(orders).unwrap_or_else(|e| panic!("{e}"));
    t.engine.integrations().register(orders).await.unwrap();
    t.register(json!({
        "name": "place", "type": "integration",
        "implementation": {
            "kind": "http", "integration": "orders",
            "request": { "method": "POST", "path": "/orders" },
            "response": { "output": "{ traceparent: body.traceparent }" }
        },
        "retry": { "maxAttempts": 1 },
        "access": { "submit": { "groups": ["shop"] }, "read": { "groups": ["shop"] } }
    }))
    .await
    .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let api = Api::serve(&t).await;

    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let shop = As::user("sam", &["shop"]);
    let request = json!({ "taskDefinitionId": "place", "workflowInstanceId": "wf-trace", "stepId": "s", "input": {} });
    let (status, body) = api
        .post_with(&shop, "/tasks", request, &[("traceparent", trace)])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["taskInstanceId"].as_str().unwrap().to_owned();
    let completed = events
        .wait_for_type("task.completed", Some(&id), WAIT)
        .await
        .unwrap();

    // The integration's downstream got the trace.
    assert_eq!(completed["detail"]["output"]["traceparent"], trace);
    // Every event of the task carries it.
    let of_task: Vec<_> = events
        .seen()
        .iter()
        .filter(|e| e["detail"]["taskInstanceId"] == id.as_str())
        .collect();
    assert!(of_task.len() >= 3, "{of_task:?}");
    for event in of_task {
        assert_eq!(event["detail"]["traceId"], trace, "{event}");
    }
    // The task's view shows it beside its timeline.
    let (_, view) = api.get(&shop, &format!("/tasks/{id}")).await;
    assert_eq!(view["traceId"], trace);
    let kinds: Vec<&str> = view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["queued", "running"], "{view}");
    runner.stop().await;
}
