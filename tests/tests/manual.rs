//! Manual tasks: assignment strategies through the pipeline, and the
//! reminder, escalation and due-time schedule driven by the sweeper.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tel_core::clock::ManualClock;
use tel_core::domain::{
    Action, Assignee, AssigneeType, Creation, NewTask, TaskInstanceId, TaskStatus,
};
use tel_engine::handlers::Sweeper;
use tel_tests::{TestStack, request};

const WAIT: Duration = Duration::from_secs(20);

fn manual(name: &str, manual: Value) -> Value {
    json!({ "name": name, "type": "manual", "manual": manual, "outputSchema": { "type": "object" } })
}

async fn assigned_to(events: &mut tel_tests::EventWatcher, body: &Value) -> (String, String) {
    let e = events
        .wait_for_type("task.assigned", body["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    (
        e["detail"]["assigneeType"].as_str().unwrap().to_owned(),
        e["detail"]["assigneeId"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn each_assignment_strategy_picks_its_assignee() {
    let t = TestStack::new().await.unwrap();
    t.register(manual(
        "to-user",
        json!({ "assignment": { "strategy": "user", "id": "alice" } }),
    ))
    .await
    .unwrap();
    t.register(manual(
        "to-group",
        json!({ "assignment": { "strategy": "group", "id": "finance" } }),
    ))
    .await
    .unwrap();
    t.register(manual(
        "to-manager",
        json!({ "assignment": { "strategy": "fromPath", "path": "/context/requester/managerId", "fallback": { "type": "GROUP", "id": "managers" } } }),
    ))
    .await
    .unwrap();
    t.register(manual(
        "strict-path",
        json!({ "assignment": { "strategy": "fromPath", "path": "/input/approver" } }),
    ))
    .await
    .unwrap();
    t.register(manual(
        "least",
        json!({ "assignment": { "strategy": "leastLoaded", "users": ["carol", "dave"] } }),
    ))
    .await
    .unwrap();

    // Carol already holds two open tasks; Dave none.
    let now = Utc::now();
    for _ in 0..2 {
        let c = Creation::new(
            NewTask {
                task_instance_id: TaskInstanceId::new(),
                definition_name: "other".into(),
                definition_version: 1,
                task_type: None,
                workflow_instance_id: "wf".into(),
                step_id: "s".into(),
                input: json!({}),
                context: Value::Null,
                priority: 0,
                trace_id: None,
                requested_by: None,
                callback: None,
            },
            now,
            now,
        )
        .then(
            Action::Assign {
                assignee: Assignee {
                    kind: AssigneeType::User,
                    id: "carol".into(),
                },
                due_at: None,
                schedule: None,
                escalated: false,
                by: None,
            },
            now,
        )
        .unwrap();
        t.engine.tasks().create(&c.task).await.unwrap();
    }

    let (mut events, runner) = t.run_watched().await;
    let user = request("to-user", json!({}));
    let group = request("to-group", json!({}));
    let mut manager = request("to-manager", json!({}));
    manager["context"] = json!({ "requester": { "id": "u-1", "managerId": "u-boss" } });
    let no_manager = request("to-manager", json!({}));
    let strict = request("strict-path", json!({}));
    let least = request("least", json!({}));
    let bodies: Vec<String> = [&user, &group, &manager, &no_manager, &strict, &least]
        .iter()
        .map(|b| b.to_string())
        .collect();
    t.send_requests(&bodies).await.unwrap();

    assert_eq!(
        assigned_to(&mut events, &user).await,
        ("USER".into(), "alice".into())
    );
    assert_eq!(
        assigned_to(&mut events, &group).await,
        ("GROUP".into(), "finance".into())
    );
    assert_eq!(
        assigned_to(&mut events, &manager).await,
        ("USER".into(), "u-boss".into())
    );
    assert_eq!(
        assigned_to(&mut events, &no_manager).await,
        ("GROUP".into(), "managers".into())
    );
    assert_eq!(
        assigned_to(&mut events, &least).await,
        ("USER".into(), "dave".into())
    );
    let failed = events
        .wait_for_type("task.failed", strict["taskInstanceId"].as_str(), WAIT)
        .await
        .unwrap();
    assert_eq!(failed["detail"]["error"]["code"], "ASSIGNMENT_ERROR");

    let task = t
        .task(TaskInstanceId::parse(user["taskInstanceId"].as_str().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(task.status, TaskStatus::Assigned);
    runner.stop().await;
}

#[tokio::test]
async fn round_robin_stays_fair_under_concurrent_assignments() {
    // Each assignment takes one turn; a task asking again right after its
    // own turn (a retried call) gets the same one (`next_turn`). A stage
    // message delivered again while its first delivery still runs, with
    // other tasks' turns between, takes a second one (the duplicate's write
    // then finds the task assigned): the queues here redeliver after 30 s,
    // not the suite's 2 s, so a busy emulator's slow batch is not delivered
    // twice and what is measured is the counter's fairness.
    let t = TestStack::with(
        std::collections::BTreeMap::from([("VisibilityTimeoutSeconds".into(), "30".into())]),
        Default::default(),
    )
    .await
    .unwrap();
    t.register(manual(
        "review",
        json!({ "assignment": { "strategy": "roundRobin", "users": ["ann", "ben", "cat"] } }),
    ))
    .await
    .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let bodies: Vec<Value> = (0..30).map(|_| request("review", json!({}))).collect();
    t.send_requests(&bodies.iter().map(Value::to_string).collect::<Vec<_>>())
        .await
        .unwrap();
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for body in &bodies {
        let (_, id) = assigned_to(&mut events, body).await;
        *per_user.entry(id).or_default() += 1;
    }
    assert_eq!(
        per_user,
        HashMap::from([("ann".into(), 10), ("ben".into(), 10), ("cat".into(), 10)])
    );
    runner.stop().await;
}

/// A sweeper whose clock reads `offset` seconds from now.
fn sweeper_at(t: &TestStack, offset: i64) -> Sweeper {
    let clock = Arc::new(ManualClock::new(
        Utc::now() + chrono::Duration::seconds(offset),
    ));
    Sweeper::new(t.engine_at(clock))
}

/// Sweeps that overlap on the real table act once on each deadline (the
/// events and their order over time: `manual_clock/reminders.rs`).
#[tokio::test]
async fn overlapping_sweeps_fire_each_reminder_escalation_and_due_time_once() {
    let (t, mut events, runner) = TestStack::running(tel_tests::timed_approvals()).await;
    let body = request("approve", json!({}));
    let by_default = request("approve-by-default", json!({}));
    t.send_requests(&[body.to_string(), by_default.to_string()])
        .await
        .unwrap();
    let id = body["taskInstanceId"].as_str().unwrap().to_owned();
    assigned_to(&mut events, &body).await;
    assigned_to(&mut events, &by_default).await;
    runner.stop().await;

    // (reminders, escalations, overdue) each pair of overlapping sweeps acts on.
    for (offset, expect) in [
        (31, (0, 0, 1)),
        (61, (1, 0, 0)),
        (121, (0, 1, 0)),
        (200, (0, 0, 0)),
        (301, (0, 0, 1)),
        (400, (0, 0, 0)),
    ] {
        let sweeper = sweeper_at(&t, offset);
        let (a, b) = tokio::join!(sweeper.sweep(), sweeper.sweep());
        let got = (
            a.reminders + b.reminders,
            a.escalations + b.escalations,
            a.overdue + b.overdue,
        );
        assert_eq!(got, expect, "at +{offset}s: {a:?} {b:?}");
    }
    let task = t.task(TaskInstanceId::parse(&id).unwrap()).await.unwrap();
    assert_eq!(task.status, TaskStatus::TimedOut);
    assert!(task.deadlines.is_empty());

    let done = t
        .task(TaskInstanceId::parse(by_default["taskInstanceId"].as_str().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(done.status, TaskStatus::Completed);
    assert_eq!(
        done.output,
        Some(json!({ "approved": true, "by": "default" }))
    );
}
