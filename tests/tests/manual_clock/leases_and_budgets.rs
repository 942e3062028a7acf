//! What the sweeper ends by time: attempts whose lease ran out (their executor
//! died), and tasks past their whole-task budgets (`scheduleToStartSeconds`,
//! `scheduleToCloseSeconds`).

use serde_json::json;
use tel_core::clock::Clock;
use tel_core::domain::{Action, Creation, TaskStatus};

use super::*;

#[tokio::test]
async fn an_attempt_whose_executor_died_is_timed_out_and_retried_to_completion() {
    let p = pipeline();
    let def = register(&p, json!({
        "name": "double", "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i) => ({ doubled: i.n * 2 })" },
        "timeoutSeconds": 60,
        "retry": { "maxAttempts": 2, "initialDelaySeconds": 0 }
    }))
    .await;
    // An executor claimed the task and died: RUNNING, attempt 1, its lease
    // (the timeout and the grace) still ahead.
    let now = p.clock.now();
    let creation = Creation::new(tel_tests::new_task(&def), now, now)
        .then(
            Action::Start {
                lease_until: now + chrono::Duration::seconds(60),
            },
            now,
        )
        .unwrap();
    p.engine.tasks().create(&creation.task).await.unwrap();
    let id = creation.task.task_instance_id;

    p.advance(seconds(59)).await.unwrap();
    assert_eq!(p.task(id).await.unwrap().status, TaskStatus::Running);
    p.advance(seconds(3)).await.unwrap();

    let done = last_event(&p, id, "task.completed");
    assert_eq!(done["attempts"], 2);
    assert_eq!(done["output"]["doubled"], 6);
    let timed_out = last_event(&p, id, "task.timed_out");
    assert_eq!(timed_out["error"]["code"], "TIMEOUT");
    assert!(
        timed_out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not finish within its lease")
    );
    let task = p.task(id).await.unwrap();
    let first = task
        .history
        .iter()
        .find(|h| h.attempt == 1 && h.outcome.is_some())
        .unwrap();
    assert_eq!(first.outcome.as_deref(), Some("timedOut"));
}

#[tokio::test]
async fn whole_task_budgets_fail_tasks_that_start_or_finish_too_late() {
    let p = pipeline();
    let def = register(&p, json!({
        "name": "budgeted", "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i, task) => { if (task.attempt < 5) throw new Error('later'); return {}; }" },
        "scheduleToStartSeconds": 60,
        "scheduleToCloseSeconds": 120,
        "retry": { "maxAttempts": 5, "backoff": "fixed", "initialDelaySeconds": 3600, "jitter": "none" }
    }))
    .await;
    // One task recorded whose message never arrives anywhere.
    let now = p.clock.now();
    let creation = Creation::new(
        tel_tests::new_task(&def),
        now,
        now + chrono::Duration::hours(1),
    )
    .with_budgets(def.budgets());
    p.engine.tasks().create(&creation.task).await.unwrap();
    let stuck = creation.task.task_instance_id;
    // Another that starts, fails and waits an hour for its retry.
    let waiting = submit(&p, "budgeted", json!({})).await;
    assert_eq!(p.task(waiting).await.unwrap().status, TaskStatus::RetryWait);

    p.advance(seconds(59)).await.unwrap();
    assert_eq!(p.task(stuck).await.unwrap().status, TaskStatus::Created);
    p.advance(seconds(3)).await.unwrap();
    let failed = last_event(&p, stuck, "task.failed");
    assert_eq!(failed["error"]["code"], "TIMEOUT");
    assert_eq!(failed["error"]["details"]["budget"], "startBy");
    assert_eq!(p.task(waiting).await.unwrap().status, TaskStatus::RetryWait);

    p.advance(seconds(60)).await.unwrap();
    let failed = last_event(&p, waiting, "task.failed");
    assert_eq!(failed["error"]["details"]["budget"], "closeBy");
    assert_eq!(p.task(waiting).await.unwrap().status, TaskStatus::Failed);
}
