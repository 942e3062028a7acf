//! The local stream reader takes a shard's batches side by side, as Lambda's
//! `ParallelizationFactor` does: split by partition key, so each task's
//! events keep their order, and a lane the bus refuses is offered again
//! alone, so the lanes that went through are not published twice.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use tel_core::domain::{Action, Creation, transition};
use tel_core::ports::{BusEvent, EventPublisher, PublishError};
use tel_tests::TestStack;

/// Refuses every other call; records the events it let through, in the
/// order each call was answered, and how many calls were in flight at once.
struct RecordingFlakyBus {
    inner: Arc<dyn EventPublisher>,
    calls: AtomicUsize,
    refused: AtomicUsize,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    /// Each event let through: its id, task and type.
    accepted: Mutex<Vec<(String, String, String)>>,
}

#[async_trait]
impl EventPublisher for RecordingFlakyBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let result = if self.calls.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
            self.refused.fetch_add(1, Ordering::SeqCst);
            Err(PublishError::Unavailable {
                failed: (0..events.len()).collect(),
                message: "ThrottlingException (simulated)".into(),
            })
        } else {
            self.inner.publish(events).await
        };
        if result.is_ok() {
            self.accepted.lock().unwrap().extend(events.iter().map(|e| {
                let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
                (
                    detail["eventId"].as_str().unwrap().to_owned(),
                    detail["taskInstanceId"].as_str().unwrap().to_owned(),
                    e.detail_type.clone(),
                )
            }));
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

#[tokio::test]
async fn lanes_keep_each_tasks_order_and_a_refused_lane_loses_and_doubles_nothing() {
    let t = TestStack::new().await.unwrap();
    let def = t
        .register(json!({
            "name": "double", "type": "automated",
            "implementation": { "kind": "javascript", "source": "export default (i) => ({ doubled: i.n * 2 })" },
        }))
        .await
        .unwrap();
    // 40 tasks, four at a time created, then started, then completed: a
    // read of 20 changes holds several writes of one task among other
    // tasks' writes.
    let now = Utc::now();
    let lease_until = now + chrono::Duration::minutes(5);
    for _ in 0..10 {
        let tasks: Vec<_> = (0..4)
            .map(|_| Creation::new(tel_tests::new_task(&def), now, lease_until).task)
            .collect();
        for task in &tasks {
            t.engine.tasks().create(task).await.unwrap();
        }
        let mut started = Vec::new();
        for task in &tasks {
            let start = transition(task, Action::Start { lease_until }, now).unwrap();
            t.engine.tasks().commit(&start).await.unwrap();
            started.push(start.task);
        }
        for task in &started {
            let output = Some(json!({ "doubled": 2 }));
            let complete = transition(task, Action::Complete { output, by: None }, now).unwrap();
            t.engine.tasks().commit(&complete).await.unwrap();
        }
    }

    let bus = Arc::new(RecordingFlakyBus {
        inner: t.engine.publisher().clone(),
        calls: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
        in_flight: AtomicUsize::new(0),
        most_in_flight: AtomicUsize::new(0),
        accepted: Mutex::new(Vec::new()),
    });
    // Batches of 5, four at a time: a read of 20 changes is four lanes.
    let reader = t.stream_reader(bus.clone()).unwrap().batches(5, 4);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let reading = tokio::spawn(reader.run(stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while bus.accepted.lock().unwrap().len() < 120 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of 120 events published",
            bus.accepted.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Long enough for a lane offered again to publish twice, were it to.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop.send(true);
    reading.await.unwrap();

    assert!(
        bus.refused.load(Ordering::SeqCst) >= 2,
        "the bus refused calls"
    );
    assert!(
        bus.most_in_flight.load(Ordering::SeqCst) >= 2,
        "lanes went out side by side"
    );
    let accepted = bus.accepted.lock().unwrap();
    let ids: HashSet<&str> = accepted.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids.len(), accepted.len(), "no event published twice");
    assert_eq!(accepted.len(), 120, "every event published");
    let mut by_task: HashMap<String, Vec<&str>> = HashMap::new();
    for (_, task, detail_type) in accepted.iter() {
        by_task
            .entry(task.clone())
            .or_default()
            .push(detail_type.as_str());
    }
    assert_eq!(by_task.len(), 40);
    for (task, types) in by_task {
        assert_eq!(
            types,
            ["task.created", "task.started", "task.completed"],
            "{task}'s events in order"
        );
    }
}
