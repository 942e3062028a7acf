//! How an integration's failures are classed: a 5xx is retried with the same
//! Idempotency-Key, a 429's Retry-After paces the retry, a 400 is not retried
//! and says why, a hung call times out.

use serde_json::json;
use tel_tests::fake_service;

use super::*;

fn task(name: &str, method: &str, path: &str, retry: Value) -> Value {
    json!({
        "name": name, "type": "integration",
        "implementation": { "kind": "http", "integration": "svc", "request": { "method": method, "path": path } },
        "retry": retry
    })
}

#[tokio::test]
async fn failures_are_classed_retried_or_not_and_paced_by_retry_after() {
    let p = pipeline();
    let (base, svc) = fake_service::start().await;
    integration(&p, json!({ "name": "svc", "baseUrl": base, "allowPrivateNetworks": true, "timeouts": { "connectMs": 500, "totalMs": 800 } })).await;
    let retry =
        json!({ "maxAttempts": 3, "backoff": "fixed", "initialDelaySeconds": 0, "jitter": "none" });
    register(&p, task("flaky", "POST", "/flaky", retry.clone())).await;
    register(&p, task("throttled", "POST", "/throttled", retry.clone())).await;
    register(&p, task("bad-request", "POST", "/bad-request", retry)).await;
    register(
        &p,
        task("hang", "GET", "/hang", json!({ "maxAttempts": 1 })),
    )
    .await;

    let flaky = submit(&p, "flaky", json!({})).await;
    let done = last_event(&p, flaky, "task.completed");
    assert_eq!(done["attempts"], 2, "{done}");
    let key = done["output"]["idempotencyKey"].as_str().unwrap();
    assert_eq!(key, flaky.to_string(), "the Idempotency-Key is the task id");
    assert_eq!(
        svc.count(&format!("flaky:{key}")),
        2,
        "both attempts carried the same key"
    );

    // `Retry-After: 2`: no second call until two seconds have passed.
    let throttled = submit(&p, "throttled", json!({})).await;
    assert_eq!(svc.count("/throttled"), 1);
    p.advance(seconds(1)).await.unwrap();
    assert_eq!(svc.count("/throttled"), 1, "Retry-After is honoured");
    p.advance(seconds(1)).await.unwrap();
    assert_eq!(svc.count("/throttled"), 2);
    assert_eq!(last_event(&p, throttled, "task.completed")["attempts"], 2);

    let bad = submit(&p, "bad-request", json!({})).await;
    let failed = last_event(&p, bad, "task.failed");
    assert_eq!(failed["attempts"], 1, "a 400 is not retried");
    let error = &failed["error"];
    assert_eq!(error["code"], "INTEGRATION_ERROR");
    assert_eq!(error["details"]["status"], 400);
    assert_eq!(error["details"]["integration"], "svc");
    assert!(
        error["details"]["body"]
            .as_str()
            .unwrap()
            .contains("`amount` is required")
    );

    let hang = submit(&p, "hang", json!({})).await;
    let failed = last_event(&p, hang, "task.failed");
    assert_eq!(failed["error"]["code"], "TIMEOUT", "{failed}");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("800 ms")
    );
}
