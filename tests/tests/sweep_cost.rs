//! The sweeper reads the sparse deadline index: a sweep costs what is due,
//! not what is stored.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{Duration, Utc};
use futures::StreamExt;
use serde_json::{Value, json};
use tel_shared::domain::{Creation, NewTask, TaskInstanceId};
use tel_shared::handlers::{Services, Sweeper};
use tel_tests::TestStack;
use tel_tests::probed_store::ProbedStore;

/// Stores `waiting` tasks with a deadline an hour away and `due` tasks whose deadline has passed.
async fn store(t: &TestStack, waiting: usize, due: usize) {
    let now = Utc::now();
    futures::stream::iter((0..waiting + due).map(|i| {
        let redeliver_at = if i < due {
            now - Duration::seconds(1)
        } else {
            now + Duration::hours(1)
        };
        let creation = Creation::new(
            NewTask {
                task_instance_id: TaskInstanceId::new(),
                definition_name: "double".into(),
                definition_version: 1,
                task_type: None,
                workflow_instance_id: format!("wf-{i}"),
                step_id: "s".into(),
                input: json!({}),
                context: Value::Null,
                priority: 0,
                trace_id: None,
            },
            now,
            redeliver_at,
        );
        async move {
            t.services.tasks.create(&creation, None).await.unwrap();
            // As after a successful publish: no outbox entry is left behind.
            let events: Vec<String> = creation.events.iter().map(|e| e.event_id.clone()).collect();
            t.services
                .tasks
                .clear_outbox(creation.task.task_instance_id, &events)
                .await
                .unwrap();
        }
    }))
    .buffer_unordered(16)
    .collect::<Vec<_>>()
    .await;
}

#[tokio::test]
async fn a_sweep_costs_what_is_due_not_what_is_stored() {
    let t = TestStack::new().await.unwrap();
    let probe = Arc::new(ProbedStore::new(t.services.tasks.clone()));
    let services = Arc::new(Services {
        tasks: probe.clone(),
        ..(*t.services).clone()
    });
    let sweeper = Sweeper::new(services);

    store(&t, 950, 50).await;
    probe.reset();
    let small = sweeper.sweep().await;
    let small_reads = probe.reads();
    assert_eq!(small.redelivered, 50, "{small:?}");

    // Three times as much waiting in the index, the same fifty due.
    store(&t, 1950, 50).await;
    probe.reset();
    let large = sweeper.sweep().await;
    let large_reads = probe.reads();
    assert_eq!(large.redelivered, 50, "{large:?}");

    println!(
        "1,000 stored: {small_reads} reads ({} index entries); 3,000 stored: {large_reads} reads ({} index entries)",
        small.due_read, large.due_read
    );
    assert_eq!(probe.due_items.load(Ordering::SeqCst), 50);
    assert_eq!(
        small_reads, large_reads,
        "reads do not grow with what is stored"
    );
    assert_eq!(
        small_reads,
        usize::from(t.services.settings.deadline_shards) + 50,
        "one query per shard, one read per due task"
    );
}
