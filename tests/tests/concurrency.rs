//! `limits.maxConcurrent`: an atomic slot pool shared by every executor.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tel_core::domain::TaskInstanceId;
use tel_engine::handlers::Sweeper;
use tel_tests::{TestStack, request};

#[tokio::test]
async fn never_more_than_max_concurrent_run_and_all_complete() {
    let (t, mut events, runner) = TestStack::running([
        json!({
        "name": "slow-double", "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i) => { const end = Date.now() + 150; while (Date.now() < end) {} return { doubled: i.n * 2 }; }" },
        "limits": { "maxConcurrent": 2 },
        "retry": { "maxAttempts": 1 }
    }),
    ])
    .await;
    let bodies: Vec<serde_json::Value> = (0..10)
        .map(|n| request("slow-double", json!({ "n": n })))
        .collect();
    t.send_requests(&bodies.iter().map(ToString::to_string).collect::<Vec<_>>())
        .await
        .unwrap();
    for body in &bodies {
        let done = events
            .wait_for_type(
                "task.completed",
                body["taskInstanceId"].as_str(),
                Duration::from_secs(90),
            )
            .await
            .unwrap();
        assert_eq!(
            done["detail"]["attempts"], 1,
            "waiting for a slot is not an attempt"
        );
    }
    runner.stop().await;

    // Each attempt's running interval, from the history: never more than two overlap.
    let mut edges: Vec<(DateTime<Utc>, i32)> = Vec::new();
    for body in &bodies {
        let history = t
            .history(TaskInstanceId::parse(body["taskInstanceId"].as_str().unwrap()).unwrap())
            .await
            .unwrap();
        let started = history.iter().find(|h| h.action == "started").unwrap().at;
        let ended = history.iter().find(|h| h.action == "completed").unwrap().at;
        edges.push((started, 1));
        edges.push((ended, -1));
    }
    edges.sort_by_key(|(at, delta)| (*at, *delta));
    let (mut running, mut most) = (0, 0);
    for (_, delta) in edges {
        running += delta;
        most = most.max(running);
    }
    assert_eq!(most, 2, "at most two ran at once, and the limit was used");
    let pools = t.engine.slots().pools().await.unwrap();
    assert!(
        pools.iter().all(|(_, holders)| holders.is_empty()),
        "every slot released: {pools:?}"
    );
}

#[tokio::test]
async fn the_sweeper_frees_slots_whose_holder_is_gone() {
    let t = TestStack::new().await.unwrap();
    let ghost = TaskInstanceId::new();
    assert!(
        t.engine
            .slots()
            .acquire("definition:x", ghost, 1)
            .await
            .unwrap()
    );
    assert!(
        !t.engine
            .slots()
            .acquire("definition:x", TaskInstanceId::new(), 1)
            .await
            .unwrap(),
        "the pool is full"
    );
    assert!(
        t.engine
            .slots()
            .acquire("definition:x", ghost, 1)
            .await
            .unwrap(),
        "holding is idempotent"
    );
    let report = Sweeper::new(t.engine.clone()).sweep().await;
    assert_eq!(report.slots_repaired, 1);
    assert!(
        t.engine
            .slots()
            .acquire("definition:x", TaskInstanceId::new(), 1)
            .await
            .unwrap()
    );
}
