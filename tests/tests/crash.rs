//! The runner killed with SIGKILL in the middle of 100 tasks and started
//! again, with `tel dev`'s queue settings: every task reaches exactly one
//! terminal state, each announced by one `task.completed` event id, none lost.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tel_core::domain::{TaskInstanceId, TaskStatus};
use tel_tests::{TestStack, request};
use tokio::process::{Child, Command};
use tokio::time::Instant;

const TASKS: usize = 100;

fn start_runner(stack_file: &std::path::Path, checkpoint: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg(stack_file)
        .arg(checkpoint)
        .env("RUST_LOG", "error")
        // Stage messages the kill lost are sent again after 5 s, not 30.
        .env("TEL_REDELIVER_AFTER_SECONDS", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the runner starts")
}

#[tokio::test]
async fn a_runner_killed_mid_run_and_started_again_finishes_every_task_once() {
    // Queues hide a received message for 10 s (`tel dev`: 30 s): what the
    // kill strands, the restart gets back by redelivery or from the sweeper.
    // The executor hides the messages it receives for 20 s itself (5 s of
    // re-send time and its margin); one the kill took between its receipt
    // and that comes back after the execute queue's own timeout, 60 s here
    // (the template's 960 s would outlast the test).
    let t = TestStack::with(
        [
            ("VisibilityTimeoutSeconds".to_owned(), "10".to_owned()),
            (
                "ExecuteVisibilityTimeoutSeconds".to_owned(),
                "60".to_owned(),
            ),
        ]
        .into(),
        Default::default(),
    )
    .await
    .unwrap();
    t.register(json!({
        "name": "short", "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i) => { const end = Date.now() + 20; while (Date.now() < end) {} return { n: i.n }; }" },
        "timeoutSeconds": 10,
        "retry": { "maxAttempts": 3, "backoff": "fixed", "initialDelaySeconds": 1, "jitter": "none" }
    }))
    .await
    .unwrap();
    let mut events = t.watch_events().await.unwrap();
    let stack_file = t.stream_checkpoint.with_extension("stack.json");
    std::fs::write(&stack_file, serde_json::to_vec(&t.stack).unwrap()).unwrap();

    let mut runner = start_runner(&stack_file, &t.stream_checkpoint);
    let bodies: Vec<Value> = (0..TASKS)
        .map(|n| request("short", json!({ "n": n })))
        .collect();
    for chunk in bodies.chunks(50) {
        t.send_requests(&chunk.iter().map(ToString::to_string).collect::<Vec<_>>())
            .await
            .unwrap();
    }
    // Kill it with work in every stage: soon after the first attempts start.
    let completed = |events: &tel_tests::EventWatcher| {
        events
            .seen()
            .iter()
            .filter(|e| e["detail-type"] == "task.completed")
            .filter_map(|e| e["detail"]["taskInstanceId"].as_str().map(str::to_owned))
            .collect::<HashSet<String>>()
            .len()
    };
    events
        .wait_for_type("task.started", None, Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    runner.start_kill().unwrap();
    runner.wait().await.unwrap();
    let done_before = completed(&events);
    let mut at_kill: HashMap<String, usize> = HashMap::new();
    for body in &bodies {
        let id = TaskInstanceId::parse(body["taskInstanceId"].as_str().unwrap()).unwrap();
        let status = match t.engine.tasks().get(id).await.unwrap() {
            Some(task) => task.status.to_string(),
            None => "not recorded".to_owned(),
        };
        *at_kill.entry(status).or_default() += 1;
    }
    println!("at the kill: {at_kill:?}");
    assert!(
        at_kill.get("COMPLETED").copied().unwrap_or(0) < TASKS,
        "killed with work left"
    );

    let restarted = Instant::now();
    let _runner = start_runner(&stack_file, &t.stream_checkpoint);
    let deadline = Instant::now() + Duration::from_secs(240);
    while completed(&events) < TASKS && Instant::now() < deadline {
        events.drain(Duration::from_millis(500)).await.unwrap();
    }
    let settled = restarted.elapsed();
    // Anything published twice (the last batch before the kill) arrives by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    events.drain(Duration::from_secs(1)).await.unwrap();
    println!(
        "{done_before} of {TASKS} completions announced before the kill; the rest {:.1} s after the restart",
        settled.as_secs_f64()
    );

    let mut completions: HashMap<String, HashSet<String>> = HashMap::new();
    for event in events.seen() {
        let id = event["detail"]["taskInstanceId"]
            .as_str()
            .unwrap()
            .to_owned();
        match event["detail-type"].as_str().unwrap() {
            "task.completed" => {
                completions
                    .entry(id)
                    .or_default()
                    .insert(event["detail"]["eventId"].as_str().unwrap().to_owned());
            }
            "task.failed" | "task.cancelled" => panic!("{event}"),
            _ => {}
        }
    }
    let mut retried = 0;
    for body in &bodies {
        let id = body["taskInstanceId"].as_str().unwrap();
        let task = t.task(TaskInstanceId::parse(id).unwrap()).await.unwrap();
        assert_eq!(task.status, TaskStatus::Completed, "{id}");
        assert_eq!(task.output, Some(json!({ "n": body["input"]["n"] })));
        assert_eq!(
            completions.get(id).map(HashSet::len),
            Some(1),
            "{id}: one task.completed event id"
        );
        let ends = task.history.iter().filter(|h| h.to.is_terminal()).count();
        assert_eq!(ends, 1, "{id}: one terminal transition");
        if task.attempt > 1 {
            retried += 1;
        }
    }
    println!("{retried} task(s) needed a second attempt (their first died with the runner)");
}
