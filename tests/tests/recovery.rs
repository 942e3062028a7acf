//! What the sweeper repairs on the real table, where sweeps overlap and writes
//! race: leases that ran out, stage messages not acted on; and events of
//! writes whose function died, published from the table's change stream.
//! (The same repairs over time, on a moved clock: `manual_clock/`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Value, json};
use tel_core::clock::ManualClock;
use tel_core::domain::{Action, Creation, TaskDefinition, TaskStatus, transition};
use tel_core::ports::{BusEvent, EventPublisher, PublishError};
use tel_engine::handlers::Sweeper;
use tel_tests::TestStack;

const WAIT: Duration = Duration::from_secs(20);

async fn double(t: &TestStack, extra: Value) -> TaskDefinition {
    let mut def = json!({
        "name": "double",
        "type": "automated",
        "implementation": { "kind": "javascript", "source": "export default (i) => ({ doubled: i.n * 2 })" },
        "outputSchema": { "type": "object", "required": ["doubled"] },
    });
    for (k, v) in extra.as_object().unwrap() {
        def[k] = v.clone();
    }
    t.register(def).await.unwrap()
}

#[tokio::test]
async fn a_lease_expiry_without_retries_left_fails_the_task() {
    let t = TestStack::new().await.unwrap();
    let def = double(&t, json!({ "retry": { "maxAttempts": 1 } })).await;
    let now = Utc::now();
    let creation = Creation::new(tel_tests::new_task(&def), now, now)
        .then(
            Action::Start {
                lease_until: now - chrono::Duration::seconds(1),
            },
            now,
        )
        .unwrap();
    t.engine.tasks().create(&creation.task).await.unwrap();
    let sweeper = Sweeper::new(t.engine.clone());
    let (a, b) = tokio::join!(sweeper.sweep(), sweeper.sweep());
    assert_eq!(
        a.leases_expired + b.leases_expired,
        1,
        "overlapping sweeps act once: {a:?} {b:?}"
    );
    let task = t.task(creation.task.task_instance_id).await.unwrap();
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(task.error.unwrap().code, "TIMEOUT");
    assert!(task.deadlines.is_empty());
}

#[tokio::test]
async fn a_stage_message_lost_after_its_write_is_sent_again() {
    let t = TestStack::new().await.unwrap();
    let def = double(&t, json!({})).await;
    // The router wrote the task, then died before sending it to validation.
    let now = Utc::now();
    let creation = Creation::new(
        tel_tests::new_task(&def),
        now,
        now + chrono::Duration::minutes(5),
    );
    t.engine.tasks().create(&creation.task).await.unwrap();
    let (mut events, runner) = t.run_watched().await;
    runner.quiesce(WAIT).await.unwrap();
    assert_eq!(
        t.task(creation.task.task_instance_id).await.unwrap().status,
        TaskStatus::Created,
        "nothing moves it before its deadline"
    );

    let clock = Arc::new(ManualClock::new(Utc::now() + chrono::Duration::minutes(6)));
    let later = t.engine_at(clock);
    let report = Sweeper::new(later).sweep().await;
    assert_eq!(report.redelivered, 1, "{report:?}");
    let id = creation.task.task_instance_id.to_string();
    events
        .wait_for_type("task.completed", Some(&id), WAIT)
        .await
        .unwrap();
    runner.stop().await;
}

/// A bus that refuses its first calls (EventBridge down for a while).
struct BusDownAtFirst {
    inner: Arc<dyn EventPublisher>,
    refusals_left: AtomicUsize,
}

#[async_trait]
impl EventPublisher for BusDownAtFirst {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        let left = self.refusals_left.load(Ordering::SeqCst);
        if left > 0 {
            self.refusals_left.store(left - 1, Ordering::SeqCst);
            return Err(PublishError::Unavailable {
                failed: (0..events.len()).collect(),
                message: "ServiceUnavailable (simulated)".into(),
            });
        }
        self.inner.publish(events).await
    }
}

#[tokio::test]
async fn events_of_writes_whose_function_died_reach_the_bus_from_the_stream_once_each() {
    let t = TestStack::new().await.unwrap();
    let def = double(&t, json!({})).await;
    let mut events = t.watch_events().await.unwrap();
    // A router created the task and an executor started it, each dying right
    // after its write: nothing published anything.
    let now = Utc::now();
    let creation = Creation::new(
        tel_tests::new_task(&def),
        now,
        now + chrono::Duration::minutes(5),
    );
    t.engine.tasks().create(&creation.task).await.unwrap();
    let started = transition(
        &creation.task,
        Action::Start {
            lease_until: now + chrono::Duration::minutes(5),
        },
        now,
    )
    .unwrap();
    t.engine.tasks().commit(&started).await.unwrap();
    events.drain(Duration::from_millis(500)).await.unwrap();
    assert!(events.seen().is_empty(), "nothing was published");

    // The publisher reads the stream; the bus refuses its first two batches.
    let bus = Arc::new(BusDownAtFirst {
        inner: t.engine.publisher().clone(),
        refusals_left: AtomicUsize::new(2),
    });
    let reader = t.stream_reader(bus.clone()).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let reading = tokio::spawn(reader.run(stopped));
    let id = creation.task.task_instance_id.to_string();
    let created = events
        .wait_for_type("task.created", Some(&id), WAIT)
        .await
        .unwrap();
    let started_event = events
        .wait_for_type("task.started", Some(&id), WAIT)
        .await
        .unwrap();
    assert_eq!(bus.refusals_left.load(Ordering::SeqCst), 0);
    assert_eq!(created["detail"]["eventId"], creation.events[0].event_id);
    assert_eq!(
        started_event["detail"]["eventId"],
        started.events[0].event_id
    );
    let _ = stop.send(true);
    reading.await.unwrap();
    // Read again by a later publisher (same checkpoint): nothing more.
    t.publish_events().await.unwrap();
    events.drain(Duration::from_millis(500)).await.unwrap();
    let ids: Vec<&str> = events
        .seen()
        .iter()
        .map(|e| e["detail"]["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "each event once: {:?}", events.seen());
}

#[tokio::test]
async fn a_stage_message_waiting_its_turn_behind_a_backlog_is_not_sent_twice() {
    let t = TestStack::new().await.unwrap();
    let def = double(&t, json!({})).await;
    // Recorded a minute ago; its first stage message (an automated task's
    // goes to the execute queue) was due to be acted on 30 s ago.
    let now = Utc::now();
    let creation = Creation::new(
        tel_tests::new_task(&def),
        now - chrono::Duration::seconds(60),
        now - chrono::Duration::seconds(30),
    );
    t.engine.tasks().create(&creation.task).await.unwrap();
    let id = creation.task.task_instance_id;
    // The execute queue holds messages nobody has read yet: a backlog.
    let execute = t.queue_url("ExecuteQueue");
    let backlog = |n: usize| {
        (0..n)
            .map(|i| tel_core::ports::OutgoingMessage {
                trace: None,
                body: format!("{{\"backlog\":{i}}}"),
                delay_seconds: 0,
            })
            .collect::<Vec<_>>()
    };
    t.engine.queues().send(&execute, backlog(3)).await.unwrap();

    let sweeper = Sweeper::new(t.engine.clone());
    let report = sweeper.sweep().await;
    assert_eq!(
        (report.redelivered, report.redelivery_deferred),
        (0, 1),
        "{report:?}"
    );
    let waiting = t.task(id).await.unwrap();
    assert_eq!(waiting.version, 1, "no transition");
    let wake = waiting.wake_at.unwrap();
    assert!(
        wake >= now + chrono::Duration::seconds(55),
        "looks again after as long as it has waited: {wake}"
    );
    assert_eq!(sweeper.sweep().await.due_read, 0, "nothing due until then");

    // At its next wake-up with the queue quiet, it is sent again.
    t.sqs()
        .purge_queue()
        .queue_url(&execute)
        .send()
        .await
        .unwrap();
    let later = Sweeper::new(t.engine_at(Arc::new(ManualClock::new(
        wake + chrono::Duration::seconds(1),
    ))));
    let report = later.sweep().await;
    assert_eq!(report.redelivered, 1, "{report:?}");
    let depth = t.engine.queues().depth(&execute).await.unwrap();
    assert_eq!(depth.waiting, 1, "its stage message, once");

    // Behind a backlog that never drains, it is sent anyway after 10 minutes.
    t.engine.queues().send(&execute, backlog(3)).await.unwrap();
    let much_later = Sweeper::new(t.engine_at(Arc::new(ManualClock::new(
        now + chrono::Duration::seconds(700),
    ))));
    let report = much_later.sweep().await;
    assert_eq!(report.redelivered, 1, "{report:?}");
}
