//! Retry policies: attempts, backoff, and retries longer than a queue delay.

use serde_json::json;
use tel_core::domain::TaskStatus;

use super::*;

fn js(name: &str, source: &str, retry: Value) -> Value {
    json!({
        "name": name, "type": "automated",
        "implementation": { "kind": "javascript", "source": source },
        "retry": retry
    })
}

#[tokio::test]
async fn a_throwing_script_is_retried_per_policy_then_fails_with_its_attempts() {
    let p = pipeline();
    register(&p, js(
        "thrower",
        "export default () => { throw new Error('always broken'); }",
        json!({ "maxAttempts": 3, "backoff": "exponential", "initialDelaySeconds": 10, "jitter": "none" }),
    ))
    .await;
    let id = submit(&p, "thrower", json!({ "n": 1 })).await;
    // Exponential backoff: the second attempt 10 s after the first, the third 20 s after that.
    p.advance(seconds(9)).await.unwrap();
    assert_eq!(p.task(id).await.unwrap().attempt, 1);
    p.advance(seconds(1)).await.unwrap();
    assert_eq!(p.task(id).await.unwrap().attempt, 2);
    p.advance(seconds(19)).await.unwrap();
    let waiting = p.task(id).await.unwrap();
    assert_eq!(waiting.attempt, 2);
    assert!(!waiting.status.is_terminal(), "{:?}", waiting.status);
    p.advance(seconds(1)).await.unwrap();

    let failed = last_event(&p, id, "task.failed");
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["error"]["code"], "EXECUTION_ERROR");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Error: always broken")
    );
    let kinds = types_of(&p, id);
    let count = |kind: &str| kinds.iter().filter(|k| *k == kind).count();
    assert_eq!(count("task.retry_scheduled"), 2);
    assert_eq!(count("task.started"), 3);

    let task = p.task(id).await.unwrap();
    let attempts: Vec<(u32, Option<&str>)> = task
        .history
        .iter()
        .filter(|h| h.outcome.is_some())
        .map(|h| (h.attempt, h.outcome.as_deref()))
        .collect();
    assert_eq!(
        attempts,
        vec![
            (1, Some("failed")),
            (2, Some("failed")),
            (3, Some("failed"))
        ]
    );
}

#[tokio::test]
async fn a_retry_longer_than_a_queue_delay_waits_in_the_deadline_index() {
    let p = pipeline();
    register(&p, js(
        "flaky",
        "export default (i, task) => { if (task.attempt < 2) throw new Error('not yet'); return { ok: true }; }",
        json!({ "maxAttempts": 2, "backoff": "fixed", "initialDelaySeconds": 3600, "jitter": "none" }),
    ))
    .await;
    let id = submit(&p, "flaky", json!({})).await;
    let scheduled = last_event(&p, id, "task.retry_scheduled");
    let retry_at: chrono::DateTime<chrono::Utc> =
        scheduled["retryAt"].as_str().unwrap().parse().unwrap();
    let occurred: chrono::DateTime<chrono::Utc> =
        scheduled["occurredAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(retry_at - occurred, chrono::Duration::hours(1));
    assert!(
        p.queued().iter().all(|m| m.queue != "execute"),
        "no queue delay reaches an hour: nothing is queued for it"
    );

    p.advance(seconds(3599)).await.unwrap();
    assert_eq!(p.task(id).await.unwrap().status, TaskStatus::RetryWait);
    // The sweeper finds it due in the index and sends it on.
    p.advance(seconds(3)).await.unwrap();
    assert_eq!(last_event(&p, id, "task.completed")["attempts"], 2);
}
