//! Bulk operations against the emulator: a retry of 2,000 failed tasks acts
//! on each once, keeps its pace and resumes after its runner dies; a cancel
//! by filter touches only what matches; a manager of one definition cannot
//! act on another's; tasks failed by a downstream that was down complete
//! after a bulk retry through the API and the running pipeline.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tel_core::clock::ManualClock;
use tel_core::domain::operation::{
    BulkAction, Operation, OperationState, Selection, TaskOutcomeKind,
};
use tel_core::domain::{
    Action, Assignee, AssigneeType, Creation, Identity, TaskError, TaskInstance, TaskInstanceId,
    TaskStatus,
};
use tel_core::ports::PageRequest;
use tel_engine::TaskEngine;
use tel_engine::operations::{BulkRequest, OperationRunner};
use tel_tests::api::{Api, As};
use tel_tests::{TestStack, fake_service, new_task, request, store_assigned};

const WAIT: Duration = Duration::from_secs(60);

fn admin() -> Identity {
    Identity {
        user: "root".into(),
        groups: vec![],
        admin: true,
    }
}

fn automated(name: &str) -> Value {
    json!({
        "name": name, "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i) => i" },
        "retry": { "maxAttempts": 1 }
    })
}

fn selection(definition: &str) -> Selection {
    Selection {
        definition: definition.into(),
        version: None,
        statuses: vec![],
        error_code: None,
        since: None,
        until: chrono::DateTime::<Utc>::MAX_UTC,
    }
}

/// Stores `count` FAILED tasks of `definition` that failed with `code`.
async fn store_failed(
    engine: &TaskEngine,
    definition: &tel_core::domain::TaskDefinition,
    code: &str,
    count: usize,
) -> Vec<TaskInstanceId> {
    let now = Utc::now();
    futures::stream::iter(0..count)
        .map(|_| async move {
            let task = Creation::new(new_task(definition), now, now)
                .then(
                    Action::Fail {
                        error: TaskError::new(code, "the downstream is down"),
                    },
                    now,
                )
                .expect("a new task may fail")
                .task;
            engine.tasks().create(&task).await.expect("stored");
            task.task_instance_id
        })
        .buffer_unordered(16)
        .collect()
        .await
}

async fn operation(engine: &TaskEngine, id: &str) -> Operation {
    engine
        .operations()
        .operation(id)
        .await
        .unwrap()
        .expect("the operation exists")
}

async fn tasks(engine: &TaskEngine, ids: &[TaskInstanceId]) -> Vec<TaskInstance> {
    futures::stream::iter(ids.to_vec())
        .map(|id| async move { engine.tasks().get(id).await.unwrap().expect("the task") })
        .buffer_unordered(16)
        .collect()
        .await
}

fn reruns(task: &TaskInstance) -> usize {
    task.history.iter().filter(|h| h.action == "rerun").count()
}

#[tokio::test]
async fn a_bulk_retry_of_2000_failed_tasks_acts_on_each_once_paced_and_resumes_after_its_runner_dies()
 {
    let t = TestStack::new().await.unwrap();
    let charge = t.register(automated("charge")).await.unwrap();
    let refund = t.register(automated("refund")).await.unwrap();
    let engine = &t.engine;
    // 2,000 on moto. LocalStack forwards every table write to its stream
    // through one kinesis-local, whatever reads it: the 10,000 records of
    // 2,000 tasks (created, retried, their outcomes) hold every other test's
    // events back for minutes, so it takes 500 there.
    let count = if tel_tests::on_localstack().await {
        500
    } else {
        2000
    };
    let selected = store_failed(engine, &charge, "INTEGRATION_ERROR", count).await;
    // Beside them: another code of the same definition, another definition.
    let other_code = store_failed(engine, &charge, "VALIDATION_ERROR", 20).await;
    let other_definition = store_failed(engine, &refund, "INTEGRATION_ERROR", 20).await;

    let counted = engine
        .count_matching(
            BulkAction::Retry,
            Selection {
                error_code: Some("INTEGRATION_ERROR".into()),
                ..selection("charge")
            },
            &admin(),
        )
        .await
        .unwrap();
    assert_eq!((counted.count, counted.capped), (count as u64, false));
    let rate = 400;
    let started = engine
        .start_operation(
            BulkRequest {
                action: BulkAction::Retry,
                selection: Selection {
                    statuses: vec![TaskStatus::Failed],
                    error_code: Some("INTEGRATION_ERROR".into()),
                    ..selection("charge")
                },
                reason: None,
                rate_per_second: Some(rate),
            },
            &admin(),
        )
        .await
        .unwrap();
    let id = started.operation_id.clone();
    let began = Instant::now();

    // The first runner dies mid-way (its function killed): its lease stays.
    let first = OperationRunner::new(engine.clone());
    let dying = tokio::spawn(async move { first.run_due(Duration::from_secs(60)).await });
    loop {
        let now = operation(engine, &id).await;
        if now.progress.selected >= count as u64 / 4 {
            break;
        }
        assert!(began.elapsed() < WAIT, "no progress: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    dying.abort();
    let _ = dying.await;
    let halfway = operation(engine, &id).await;
    assert!(halfway.is_running() && halfway.lease.is_some());
    assert!(halfway.progress.selected < count as u64, "{halfway:?}");
    // Nobody takes it while the lease holds.
    let meanwhile = OperationRunner::new(engine.clone())
        .run_due(Duration::from_secs(5))
        .await;
    assert_eq!(meanwhile.operations, 0, "{meanwhile:?}");

    // Once the lease has run out, the next sweep's runner goes on where it stopped.
    let later = t.engine_at(Arc::new(ManualClock::new(
        Utc::now() + chrono::Duration::minutes(3),
    )));
    let second = OperationRunner::new(later.clone());
    for _ in 0..20 {
        second.run_due(Duration::from_secs(10)).await;
        if !operation(engine, &id).await.is_running() {
            break;
        }
    }
    let elapsed = began.elapsed();
    let done = operation(engine, &id).await;
    assert_eq!(done.state, OperationState::Done, "{done:?}");
    assert_eq!(done.progress.selected, count as u64, "{done:?}");
    assert_eq!(
        (
            done.progress.acted,
            done.progress.skipped,
            done.progress.failed
        ),
        (count as u64, 0, 0),
        "{done:?}"
    );
    assert!(done.pending.is_empty());
    // Paced: 2,000 tasks at 400 a second take 5 s at least (the last batch unpaced).
    assert!(
        elapsed >= Duration::from_secs_f64((count - 25) as f64 / rate as f64),
        "{elapsed:?}"
    );

    // Each selected task was run again exactly once; nothing else moved.
    for task in tasks(engine, &selected).await {
        assert_eq!(reruns(&task), 1, "{}", task.task_instance_id);
        assert_eq!(task.status, TaskStatus::Created);
        let rerun = task.history.iter().find(|h| h.action == "rerun").unwrap();
        assert_eq!(rerun.actor.as_deref(), Some("root"));
    }
    for task in tasks(engine, &[other_code, other_definition].concat()).await {
        assert_eq!((task.status, reruns(&task)), (TaskStatus::Failed, 0));
    }
    // Every task's outcome is recorded, once.
    let mut outcomes = Vec::new();
    let mut page = PageRequest {
        limit: Some(500),
        cursor: None,
    };
    loop {
        let got = engine
            .operations()
            .outcomes(&id, page.clone())
            .await
            .unwrap();
        outcomes.extend(got.items);
        match got.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(outcomes.len(), count);
    assert!(
        outcomes
            .iter()
            .all(|o| o.outcome == TaskOutcomeKind::Retried)
    );
    // A second run of a finished operation does nothing.
    let again = second.run_due(Duration::from_secs(2)).await;
    assert_eq!(again.acted, 0);
}

#[tokio::test]
async fn a_bulk_cancel_by_filter_touches_only_the_matching_tasks() {
    let t = TestStack::new().await.unwrap();
    let approve = t
        .register(json!({
            "name": "approve", "type": "manual",
            "manual": { "assignment": { "strategy": "group", "id": "finance" } }
        }))
        .await
        .unwrap();
    let review = t
        .register(json!({
            "name": "review", "type": "manual",
            "manual": { "assignment": { "strategy": "group", "id": "finance" } }
        }))
        .await
        .unwrap();
    let finance = Assignee {
        kind: AssigneeType::Group,
        id: "finance".into(),
    };
    let mut older = Vec::new();
    for _ in 0..3 {
        older.push(store_assigned(&t, &approve, finance.clone()).await);
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut newer = Vec::new();
    for _ in 0..4 {
        newer.push(store_assigned(&t, &approve, finance.clone()).await);
    }
    // A newer one claimed: not ASSIGNED, so not selected.
    let claimed = store_assigned(&t, &approve, finance.clone()).await;
    let claimed = t
        .engine
        .apply(&claimed, Action::Claim { by: "ann".into() })
        .await
        .unwrap();
    let elsewhere = store_assigned(&t, &review, finance.clone()).await;

    let engine = &t.engine;
    let filter = Selection {
        statuses: vec![TaskStatus::Assigned],
        since: Some(since),
        ..selection("approve")
    };
    let counted = engine
        .count_matching(BulkAction::Cancel, filter.clone(), &admin())
        .await
        .unwrap();
    assert_eq!(counted.count, 4);
    let started = engine
        .start_operation(
            BulkRequest {
                action: BulkAction::Cancel,
                selection: filter,
                reason: Some("the approval form was retired".into()),
                rate_per_second: None,
            },
            &admin(),
        )
        .await
        .unwrap();
    OperationRunner::new(engine.clone())
        .run_due(Duration::from_secs(20))
        .await;
    let done = operation(engine, &started.operation_id).await;
    assert_eq!(done.state, OperationState::Done, "{done:?}");
    assert_eq!(done.progress.acted, 4);
    for task in &newer {
        let now = t.task(task.task_instance_id).await.unwrap();
        assert_eq!(now.status, TaskStatus::Cancelled);
        let entry = now.history.last().unwrap();
        assert_eq!(entry.actor.as_deref(), Some("root"));
        assert!(
            entry.details.to_string().contains("retired"),
            "{:?}",
            entry.details
        );
    }
    for task in older.iter().chain([&claimed, &elsewhere]) {
        let now = t.task(task.task_instance_id).await.unwrap();
        assert_eq!(now.version, task.version, "untouched: {now:?}");
    }
    // Cancelled tasks left the operations index: nothing matches any more.
    let after = engine
        .count_matching(BulkAction::Cancel, selection("approve"), &admin())
        .await
        .unwrap();
    assert_eq!(after.count, 4, "the 3 older ASSIGNED and the CLAIMED one");
}

#[tokio::test]
async fn failed_tasks_of_a_downstream_that_was_down_complete_after_a_bulk_retry_and_managers_act_only_on_their_own()
 {
    let (base, service) = fake_service::start().await;
    let (t, mut events, _runner) = TestStack::running([]).await;
    let inventory = tel_core::integrations::Integration::parse(
        json!({ "name": "inventory", "baseUrl": base, "allowPrivateNetworks": true }),
    )
    .unwrap();
    t.engine.integrations().register(inventory).await.unwrap();
    let check = |name: &str, managers: &str| {
        json!({
            "name": name, "type": "integration",
            "implementation": { "kind": "http", "integration": "inventory", "request": { "method": "GET", "path": "/health" } },
            "retry": { "maxAttempts": 1 },
            "access": { "submit": { "groups": [managers] }, "read": { "groups": [managers] }, "manage": { "groups": [managers] } }
        })
    };
    t.register(check("check-stock", "ops")).await.unwrap();
    t.register(check("check-price", "pricing")).await.unwrap();
    service.down.store(true, Ordering::SeqCst);
    let bodies: Vec<Value> = (0..12)
        .map(|_| request("check-stock", json!({})))
        .chain((0..4).map(|_| request("check-price", json!({}))))
        .collect();
    t.send_requests(&bodies.iter().map(Value::to_string).collect::<Vec<_>>())
        .await
        .unwrap();
    for body in &bodies {
        let id = body["taskInstanceId"].as_str().unwrap();
        events
            .wait_for_type("task.failed", Some(id), WAIT)
            .await
            .unwrap();
    }
    let first =
        tel_core::domain::TaskInstanceId::parse(bodies[0]["taskInstanceId"].as_str().unwrap())
            .unwrap();
    let code = t.task(first).await.unwrap().error.unwrap().code;
    service.down.store(false, Ordering::SeqCst);

    let api = Api::serve(&t).await;
    let olga = As::user("olga", &["ops"]);
    // The attack: olga manages check-stock only. Counting or acting on
    // check-price's tasks is refused as if it did not exist.
    let (status, body) = api
        .get(
            &olga,
            "/operations/matches?action=retry&definition=check-price",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = api
        .post(
            &olga,
            "/operations",
            json!({ "action": "retry", "selection": { "definition": "check-price" } }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let (status, body) = api
        .get(
            &olga,
            &format!(
                "/operations/matches?action=retry&definition=check-stock&status=FAILED&error={code}"
            ),
        )
        .await;
    assert_eq!(
        (status, body["count"].as_u64()),
        (StatusCode::OK, Some(12)),
        "{body}"
    );
    let (status, started) = api
        .post(
            &olga,
            "/operations",
            json!({ "action": "retry", "selection": { "definition": "check-stock", "statuses": ["FAILED"], "errorCode": code }, "ratePerSecond": 50 }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["state"], "RUNNING");
    assert_eq!(started["startedBy"]["user"], "olga");
    let path = format!("/operations/{}", started["operationId"].as_str().unwrap());

    // The running pipeline's sweeper takes it up; the downstream is back.
    for body in &bodies[..12] {
        let id = body["taskInstanceId"].as_str().unwrap();
        events
            .wait_for_type("task.completed", Some(id), WAIT)
            .await
            .unwrap();
    }
    let began = Instant::now();
    let done = loop {
        let (_, now) = api.get(&olga, &path).await;
        if now["state"] != "RUNNING" {
            break now;
        }
        assert!(began.elapsed() < WAIT, "{now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done["state"], "DONE", "{done}");
    assert_eq!(done["progress"]["acted"], 12, "{done}");
    let (_, outcomes) = api.get(&olga, &format!("{path}/tasks")).await;
    let outcomes = outcomes["items"].as_array().unwrap();
    assert_eq!(outcomes.len(), 12);
    assert!(outcomes.iter().all(|o| o["outcome"] == "retried"));
    for body in &bodies[12..] {
        let id = TaskInstanceId::parse(body["taskInstanceId"].as_str().unwrap()).unwrap();
        assert_eq!(t.task(id).await.unwrap().status, TaskStatus::Failed);
    }
    // Someone who may not read check-stock does not see the operation at
    // all; a reader may not stop one.
    let (status, _) = api.get(&As::user("mallory", &[]), &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = api.get(&As::user("mallory", &[]), "/operations").await;
    assert!(listed["items"].as_array().unwrap().is_empty(), "{listed}");
    let (status, _) = api
        .post(
            &As::user("paul", &["pricing"]),
            &format!("{path}/stop"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.post(&olga, &format!("{path}/stop"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "already done");
}

#[tokio::test]
async fn a_slow_operation_leaves_the_others_their_share_and_operations_are_capped() {
    let t = TestStack::new().await.unwrap();
    let slow_definition = t.register(automated("reindex")).await.unwrap();
    let quick_definition = t.register(automated("notify")).await.unwrap();
    let engine = &t.engine;
    let root = admin();
    store_failed(engine, &slow_definition, "INTEGRATION_ERROR", 30).await;
    let quick = store_failed(engine, &quick_definition, "INTEGRATION_ERROR", 30).await;
    let start = |definition: &str, rate: u32| {
        engine.start_operation(
            BulkRequest {
                action: BulkAction::Retry,
                selection: selection(definition),
                reason: None,
                rate_per_second: Some(rate),
            },
            &root,
        )
    };
    // The older one crawls at 1 a second (a batch of 25, then 25 s of
    // waiting): it may not hold the whole budget.
    let slow = start("reindex", 1).await.unwrap();
    let fast = start("notify", 500).await.unwrap();
    OperationRunner::new(engine.clone())
        .run_due(Duration::from_secs(20))
        .await;
    let fast = operation(engine, &fast.operation_id).await;
    assert_eq!(fast.state, OperationState::Done, "{fast:?}");
    assert_eq!(fast.progress.acted, 30);
    for task in tasks(engine, &quick).await {
        assert_eq!(reruns(&task), 1);
    }
    let slow = operation(engine, &slow.operation_id).await;
    assert!(slow.is_running(), "{slow:?}");
    assert!(slow.progress.acted < 30, "{slow:?}");

    // At most 3 running on one definition: the fourth is refused.
    start("reindex", 1).await.unwrap();
    start("reindex", 1).await.unwrap();
    let refused = start("reindex", 1).await.unwrap_err();
    assert!(
        matches!(refused, tel_engine::operations::OperationError::TooMany(_)),
        "{refused}"
    );
    // An error code too long for an index key is refused before anything starts.
    let long = engine
        .start_operation(
            BulkRequest {
                action: BulkAction::Retry,
                selection: Selection {
                    error_code: Some("E".repeat(2000)),
                    ..selection("notify")
                },
                reason: None,
                rate_per_second: None,
            },
            &admin(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(long, tel_engine::operations::OperationError::Selection(_)),
        "{long}"
    );
}
