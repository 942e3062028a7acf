//! Priority lanes: requests at or above the threshold overtake a backlog.

use std::time::Duration;

use serde_json::{Value, json};
use tel_core::domain::TaskInstanceId;
use tel_local::RunnerOptions;
use tel_tests::{TestStack, request};

#[tokio::test]
async fn a_high_priority_task_overtakes_a_backlog() {
    let t = TestStack::new().await.unwrap();
    t.register(json!({
        "name": "slow", "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i) => { const end = Date.now() + 500; while (Date.now() < end) {} return { n: i.n }; }" },
        "retry": { "maxAttempts": 1 }
    }))
    .await
    .unwrap();
    let mut events = t.watch_events().await.unwrap();
    // One task at a time per function, so order shows.
    let options = RunnerOptions {
        pollers_per_function: 1,
        batch_size: 1,
        wait_seconds: 1,
        sweep_every: Duration::from_secs(5),
        ..RunnerOptions::default()
    };
    let runner = t
        .run_pipeline_as(tel_runners::standard(&t.sdk, &t.engine), &options)
        .unwrap();
    let backlog: Vec<Value> = (0..24)
        .map(|n| request("slow", json!({ "n": n })))
        .collect();
    t.send_requests(&backlog.iter().map(ToString::to_string).collect::<Vec<_>>())
        .await
        .unwrap();
    // Every backlog task recorded (the requests queue has no priority lane:
    // it is the orchestrator's), most of them waiting in the execute queue.
    // Read from the table: the bus may deliver `task.created` seconds later.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    for body in &backlog {
        let id = TaskInstanceId::parse(body["taskInstanceId"].as_str().unwrap()).unwrap();
        while t.task(id).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "{id} never recorded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut urgent = request("slow", json!({ "n": 99 }));
    urgent["priority"] = json!(9);
    t.send_requests(&[urgent.to_string()]).await.unwrap();

    let urgent_id = urgent["taskInstanceId"].as_str().unwrap();
    events
        .wait_for_type("task.completed", Some(urgent_id), Duration::from_secs(30))
        .await
        .unwrap();
    for body in &backlog {
        events
            .wait_for_type(
                "task.completed",
                body["taskInstanceId"].as_str(),
                Duration::from_secs(30),
            )
            .await
            .unwrap();
    }
    runner.stop().await;
    // Judged from when the urgent task was recorded, not from when it was
    // sent: on a loaded host the executor may work through much of the
    // backlog while the backlog is still being recorded.
    let seen = events.seen();
    let at = |kind: &str, id: &str| -> chrono::DateTime<chrono::Utc> {
        seen.iter()
            .filter(|e| e["detail-type"] == kind && e["detail"]["taskInstanceId"] == id)
            .filter_map(|e| e["detail"]["occurredAt"].as_str()?.parse().ok())
            .min()
            .unwrap_or_else(|| panic!("no {kind} for {id}"))
    };
    let urgent_created = at("task.created", urgent_id);
    let urgent_started = at("task.started", urgent_id);
    let backlog_started: Vec<_> = backlog
        .iter()
        .map(|body| at("task.started", body["taskInstanceId"].as_str().unwrap()))
        .collect();
    let went_first = backlog_started
        .iter()
        .filter(|started| (urgent_created..urgent_started).contains(started))
        .count();
    let overtaken = backlog_started
        .iter()
        .filter(|started| **started > urgent_started)
        .count();
    // The executor may take a backlog task or two while the urgent one
    // passes the router and the validator's priority lane.
    assert!(
        went_first <= 3,
        "{went_first} backlog tasks started after the urgent one was recorded and before it"
    );
    assert!(
        overtaken >= 8,
        "the urgent task overtook only {overtaken}: too little backlog was left to show priority"
    );
    let task = t
        .task(TaskInstanceId::parse(urgent_id).unwrap())
        .await
        .unwrap();
    assert_eq!(task.priority, 9);
}
