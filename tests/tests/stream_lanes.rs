//! The local stream reader takes a shard's batches side by side, as Lambda's
//! `ParallelizationFactor` does: split by partition key, so each task's
//! events keep their order; a lane the bus refuses is offered again alone,
//! from its first change not published, so what went through is not
//! published twice; and a runner stopped with a lane held publishes it when
//! started again from its checkpoint.

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

/// What the bus does with a call.
#[derive(Clone, Copy)]
enum Answer {
    Take,
    /// Takes the first half of the call's events and refuses the rest, as
    /// EventBridge refuses some entries of a `PutEvents`.
    TakeHalf,
    Refuse,
}

/// Answers each call by its number; records the events it let through, in
/// the order each call was answered, and how many calls were in flight at
/// once.
struct RecordingBus {
    inner: Arc<dyn EventPublisher>,
    answer: fn(usize) -> Answer,
    calls: AtomicUsize,
    refused: AtomicUsize,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    /// Each event let through: its id, task and type.
    accepted: Mutex<Vec<(String, String, String)>>,
}

impl RecordingBus {
    fn new(inner: Arc<dyn EventPublisher>, answer: fn(usize) -> Answer) -> Arc<Self> {
        Arc::new(Self {
            inner,
            answer,
            calls: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
            accepted: Mutex::new(Vec::new()),
        })
    }

    fn accepted(&self) -> Vec<(String, String, String)> {
        self.accepted.lock().unwrap().clone()
    }

    async fn deliver(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        self.inner.publish(events).await?;
        self.accepted.lock().unwrap().extend(events.iter().map(|e| {
            let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
            (
                detail["eventId"].as_str().unwrap().to_owned(),
                detail["taskInstanceId"].as_str().unwrap().to_owned(),
                e.detail_type.clone(),
            )
        }));
        Ok(())
    }
}

#[async_trait]
impl EventPublisher for RecordingBus {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let taken = match (self.answer)(self.calls.fetch_add(1, Ordering::SeqCst)) {
            Answer::Take => events.len(),
            Answer::TakeHalf => events.len() / 2,
            Answer::Refuse => 0,
        };
        let result = match self.deliver(&events[..taken]).await {
            Ok(()) if taken == events.len() => Ok(()),
            Ok(()) => {
                self.refused.fetch_add(1, Ordering::SeqCst);
                Err(PublishError::Unavailable {
                    failed: (taken..events.len()).collect(),
                    message: "ThrottlingException (simulated)".into(),
                })
            }
            Err(e) => Err(e),
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

/// 40 tasks written four at a time (created, then started, then
/// completed): a read of 20 changes holds several writes of one task among
/// other tasks' writes. 120 changes, one event each.
async fn forty_tasks(t: &TestStack) {
    let def = t
        .register(json!({
            "name": "double", "type": "automated",
            "implementation": { "kind": "javascript", "source": "export default (i) => ({ doubled: i.n * 2 })" },
        }))
        .await
        .unwrap();
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
}

/// Runs a reader of `t`'s stream on `bus` in batches of 5, four at a time
/// (a read of 20 changes is four lanes), until `done` or 60 s.
async fn read_until(t: &TestStack, bus: &Arc<RecordingBus>, done: impl Fn(&RecordingBus) -> bool) {
    let reader = t.stream_reader(bus.clone()).unwrap().batches(5, 4);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let reading = tokio::spawn(reader.run(stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done(bus) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not done in 60 s: {} events published, {} calls refused",
            bus.accepted().len(),
            bus.refused.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(true);
    reading.await.unwrap();
}

#[tokio::test]
async fn lanes_keep_each_tasks_order_and_a_refused_lane_loses_and_doubles_nothing() {
    let t = TestStack::new().await.unwrap();
    forty_tasks(&t).await;
    // Every other call: half its events taken, the rest refused.
    let bus = RecordingBus::new(t.engine.publisher().clone(), |call| {
        if call % 2 == 1 {
            Answer::TakeHalf
        } else {
            Answer::Take
        }
    });
    read_until(&t, &bus, |bus| bus.accepted().len() >= 120).await;
    // Long enough for a lane offered again to publish twice, were it to.
    tokio::time::sleep(Duration::from_secs(2)).await;

    assert!(
        bus.refused.load(Ordering::SeqCst) >= 2,
        "the bus refused events"
    );
    assert!(
        bus.most_in_flight.load(Ordering::SeqCst) >= 2,
        "lanes went out side by side"
    );
    let accepted = bus.accepted();
    let ids: HashSet<&str> = accepted.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids.len(), accepted.len(), "no event published twice");
    assert_eq!(accepted.len(), 120, "every event published");
    let mut by_task: HashMap<&str, Vec<&str>> = HashMap::new();
    for (_, task, detail_type) in &accepted {
        by_task.entry(task).or_default().push(detail_type);
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

#[tokio::test]
async fn a_reader_stopped_with_a_lane_held_publishes_it_when_started_again() {
    let t = TestStack::new().await.unwrap();
    forty_tasks(&t).await;
    // The bus takes three calls, then goes down: the first read's fourth
    // lane is held when the reader stops.
    let down = RecordingBus::new(t.engine.publisher().clone(), |call| {
        if call < 3 {
            Answer::Take
        } else {
            Answer::Refuse
        }
    });
    read_until(&t, &down, |bus| bus.refused.load(Ordering::SeqCst) >= 3).await;
    let before = down.accepted();
    assert!(
        !before.is_empty() && before.len() < 120,
        "{} published before the stop",
        before.len()
    );

    // Started again on the same checkpoint, with the bus back.
    let up = RecordingBus::new(t.engine.publisher().clone(), |_| Answer::Take);
    t.stream_reader(up.clone())
        .unwrap()
        .batches(5, 4)
        .publish_pending()
        .await;
    let after = up.accepted();
    let ids: HashSet<&str> = before
        .iter()
        .chain(&after)
        .map(|(id, _, _)| id.as_str())
        .collect();
    assert_eq!(
        ids.len(),
        120,
        "every event published, once or twice with one id"
    );
    let mut by_task: HashMap<&str, Vec<&str>> = HashMap::new();
    for (_, task, detail_type) in &after {
        by_task.entry(task).or_default().push(detail_type);
    }
    for (task, types) in by_task {
        assert!(
            types.is_sorted_by_key(|t| ["task.created", "task.started", "task.completed"]
                .iter()
                .position(|known| known == t)),
            "{task}'s events in order after the restart: {types:?}"
        );
    }
}
