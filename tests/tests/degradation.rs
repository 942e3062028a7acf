//! Throttling and failures of DynamoDB and EventBridge: records go back to
//! SQS as batch item failures and are retried, stream batches whose events
//! were not published are read again; no state is lost, no task completes
//! twice, every event arrives (by event id).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tel_core::domain::{TaskInstanceId, TaskStatus};
use tel_core::ports::{BusEvent, EventPublisher, PublishError};
use tel_engine::config::Settings;
use tel_tests::probed_store::ProbedStore;
use tel_tests::{TestStack, request};

/// The first two publishes fail outright, then every other one.
struct FlakyBus {
    inner: Arc<dyn EventPublisher>,
    calls: AtomicUsize,
    refused: AtomicUsize,
}

#[async_trait]
impl EventPublisher for FlakyBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call < 2 || call.is_multiple_of(2) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(PublishError::Unavailable {
                failed: (0..events.len()).collect(),
                message: "ThrottlingException (simulated)".into(),
            });
        }
        self.inner.publish(events).await
    }
}

#[tokio::test]
async fn throttled_writes_and_failed_publishes_lose_nothing_and_duplicate_nothing() {
    let settings = Settings {
        lease_grace: Duration::from_secs(1),
        ..Settings::default()
    };
    let mut t = TestStack::with(
        [
            ("VisibilityTimeoutSeconds".to_owned(), "1".to_owned()),
            ("ExecuteVisibilityTimeoutSeconds".to_owned(), "3".to_owned()),
        ]
        .into(),
        settings,
    )
    .await
    .unwrap();
    // About one transition write in three throttled (a fixed pseudo-random sequence).
    let store = Arc::new(ProbedStore::throttling(t.engine.tasks().clone(), |n| {
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(17)
            .is_multiple_of(3)
    }));
    let bus = Arc::new(FlakyBus {
        inner: t.engine.publisher().clone(),
        calls: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
    });
    t.engine = Arc::new(
        t.engine
            .rebuild()
            .tasks(store.clone())
            .publisher(bus.clone())
            .build(),
    );
    t.register(json!({
        "name": "double", "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i) => ({ doubled: i.n * 2 })" },
        "timeoutSeconds": 1,
        "retry": { "maxAttempts": 5, "backoff": "fixed", "initialDelaySeconds": 0, "jitter": "none" }
    }))
    .await
    .unwrap();
    let (mut events, runner) = t.run_watched().await;
    let bodies: Vec<Value> = (0..20)
        .map(|n| request("double", json!({ "n": n })))
        .collect();
    t.send_requests(&bodies.iter().map(ToString::to_string).collect::<Vec<_>>())
        .await
        .unwrap();
    for body in &bodies {
        events
            .wait_for_type(
                "task.completed",
                body["taskInstanceId"].as_str(),
                Duration::from_secs(60),
            )
            .await
            .unwrap();
    }
    runner.quiesce(Duration::from_secs(60)).await.unwrap();
    events.drain(Duration::from_millis(500)).await.unwrap();
    runner.stop().await;
    assert!(
        store.throttled.load(Ordering::SeqCst) >= 5,
        "the store was throttled"
    );
    assert!(
        bus.refused.load(Ordering::SeqCst) >= 2,
        "the bus refused publishes"
    );

    // Each task: COMPLETED once, with the right output; every event of its history arrived.
    let mut completions: HashMap<String, HashSet<String>> = HashMap::new();
    for e in events
        .seen()
        .iter()
        .filter(|e| e["detail-type"] == "task.completed")
    {
        completions
            .entry(e["detail"]["taskInstanceId"].as_str().unwrap().to_owned())
            .or_default()
            .insert(e["detail"]["eventId"].as_str().unwrap().to_owned());
    }
    for body in &bodies {
        let id = body["taskInstanceId"].as_str().unwrap();
        assert_eq!(completions[id].len(), 1, "{id} completed once");
        let task = t.task(TaskInstanceId::parse(id).unwrap()).await.unwrap();
        assert_eq!(task.status, TaskStatus::Completed);
        assert_eq!(
            task.output.unwrap()["doubled"],
            body["input"]["n"].as_i64().unwrap() * 2
        );
        let history = t.history(task.task_instance_id).await.unwrap();
        let versions: Vec<u64> = history.iter().map(|h| h.version).collect();
        assert_eq!(
            versions,
            (1..=task.version).collect::<Vec<_>>(),
            "no lost or doubled transition"
        );
        assert_eq!(
            history.iter().filter(|h| h.action == "completed").count(),
            1
        );
    }
}

#[tokio::test]
async fn search_entries_refused_for_good_never_hold_the_events_and_throttled_ones_hold_their_change()
 {
    use tel_core::domain::{Action, Assignee, AssigneeType, Creation, NewTask};
    use tel_core::fakes::InMemoryTaskStore;
    use tel_core::ports::TaskChange;
    use tel_engine::handlers::ChangePublisher;
    let (builder, handles) = tel_engine::EngineBuilder::in_memory(Default::default());
    let store = Arc::new(ProbedStore::new(Arc::new(InMemoryTaskStore::default())));
    let engine = Arc::new(builder.tasks(store.clone()).build());
    let publisher = ChangePublisher::of_engine(&engine);
    // A manual task's creation and assignment: entries to file, two events.
    let now = chrono::Utc::now();
    let assign = Action::Assign {
        assignee: Assignee {
            kind: AssigneeType::Group,
            id: "finance".into(),
        },
        due_at: None,
        schedule: None,
        escalated: false,
        by: None,
    };
    let new = NewTask::of_step(("approve", 1), "wf", "s", json!({}));
    let task = Creation::new(new, now, now).then(assign, now).unwrap().task;
    let change = TaskChange {
        sequence: "1".into(),
        previous_version: 0,
        task,
        previously_filed: None,
    };
    // Throttled: the change waits in the stream, its events with it.
    store.filing.store(1, Ordering::SeqCst);
    let held = publisher
        .publish(std::slice::from_ref(&change))
        .await
        .unwrap_err();
    assert_eq!(held.sequence, "1");
    assert!(handles.publisher.take().is_empty());
    // Refused for good (a key DynamoDB rejects, a denied call): the events go out.
    store.filing.store(2, Ordering::SeqCst);
    assert_eq!(publisher.publish(&[change]).await, Ok(2));
    let types: Vec<String> = handles
        .publisher
        .take()
        .into_iter()
        .map(|e| e.detail_type)
        .collect();
    assert_eq!(types, ["task.created", "task.assigned"]);
}
