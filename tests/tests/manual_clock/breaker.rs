//! A circuit breaker per integration: it opens on failures, holds new tasks
//! back while open (not failed, not an attempt), and closes after its cool-down
//! once a probe succeeds.

use std::sync::atomic::Ordering;

use serde_json::json;
use tel_core::domain::TaskStatus;
use tel_tests::fake_service;

use super::*;

#[tokio::test]
async fn the_breaker_opens_defers_tasks_and_closes_after_one_probe() {
    let p = pipeline();
    let (base, svc) = fake_service::start().await;
    integration(&p, json!({
        "name": "health", "baseUrl": base, "allowPrivateNetworks": true,
        "breaker": { "failureRateThreshold": 0.5, "minimumCalls": 3, "windowSeconds": 60, "coolDownSeconds": 30 }
    }))
    .await;
    register(&p, json!({
        "name": "check", "type": "integration",
        "implementation": { "kind": "http", "integration": "health", "request": { "method": "GET", "path": "/health" } },
        "retry": { "maxAttempts": 1 }
    }))
    .await;

    svc.down.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        let id = submit(&p, "check", json!({})).await;
        let failed = last_event(&p, id, "task.failed");
        assert_eq!(failed["error"]["details"]["status"], 503);
    }
    let opened: Vec<_> = p
        .events()
        .into_iter()
        .filter(|e| e.detail_type == "integration.circuit_opened")
        .collect();
    assert_eq!(opened.len(), 1, "opened once");
    assert!(
        opened[0].detail.contains("\"health\""),
        "{}",
        opened[0].detail
    );

    // While open, new tasks wait: not failed, not started, not an attempt.
    let mut waiting = Vec::new();
    for _ in 0..4 {
        waiting.push(submit(&p, "check", json!({})).await);
    }
    p.advance(seconds(20)).await.unwrap();
    for id in &waiting {
        let task = p.task(*id).await.unwrap();
        assert_eq!(
            (task.status, task.attempt),
            (TaskStatus::Created, 0),
            "deferred while the circuit is open"
        );
    }
    assert_eq!(svc.count("/health"), 3, "no call went out while open");

    // The service recovers; after the cool-down a probe closes the circuit
    // and every waiting task runs once.
    svc.down.store(false, Ordering::SeqCst);
    p.advance(seconds(15)).await.unwrap();
    for id in &waiting {
        let done = last_event(&p, *id, "task.completed");
        assert_eq!(done["attempts"], 1);
    }
    let kinds: Vec<String> = checked_events(&p)
        .into_iter()
        .map(|(kind, _)| kind)
        .filter(|k| k.starts_with("integration."))
        .collect();
    assert_eq!(
        kinds,
        ["integration.circuit_opened", "integration.circuit_closed"]
    );
    assert_eq!(svc.count("/health"), 3 + 4);
}
