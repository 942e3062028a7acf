//! The sweeper reads the sparse deadline index: a sweep costs what is due,
//! not what is stored.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tel_engine::handlers::Sweeper;
use tel_tests::probed_store::ProbedStore;
use tel_tests::{TestStack, store_waiting_and_due};

#[tokio::test]
async fn a_sweep_costs_what_is_due_not_what_is_stored() {
    let t = TestStack::new().await.unwrap();
    let probe = Arc::new(ProbedStore::new(t.engine.tasks().clone()));
    // Storing thousands of tasks may take longer than the redelivery interval
    // (DynamoDB Local does ~50 writes/s): the first round's tasks must not be
    // due again when the second round sweeps.
    let mut settings = t.engine.settings().clone();
    settings.redeliver_after = std::time::Duration::from_secs(3600);
    let sweeper = Sweeper::new(Arc::new(
        t.engine
            .rebuild()
            .tasks(probe.clone())
            .settings(settings)
            .build(),
    ));

    store_waiting_and_due(&t, 150, 50).await.unwrap();
    probe.reset();
    let small = sweeper.sweep().await;
    let small_reads = probe.reads();
    assert_eq!(small.redelivered, 50, "{small:?}");

    // Four times as much waiting in the index, the same fifty due.
    store_waiting_and_due(&t, 550, 50).await.unwrap();
    probe.reset();
    let large = sweeper.sweep().await;
    let large_reads = probe.reads();
    // The first round's re-sent messages still wait in the validate queue:
    // these wait their turn behind them (a write moves their wake-up, no read).
    assert_eq!(
        large.redelivered + large.redelivery_deferred,
        50,
        "{large:?}"
    );

    println!(
        "200 stored: {small_reads} reads ({} index entries); 800 stored: {large_reads} reads ({} index entries)",
        small.due_read, large.due_read
    );
    assert_eq!(probe.due_items.load(Ordering::SeqCst), 50);
    assert_eq!(
        small_reads, large_reads,
        "reads do not grow with what is stored"
    );
    assert_eq!(
        small_reads,
        usize::from(t.engine.settings().deadline_shards) + 50,
        "one query per shard, one read per due task"
    );
}
