//! What a sweep reads with 50 tasks due among many stored: the deadline
//! index is sparse, so the count should not move with the stored total.

use std::sync::Arc;

use tel_engine::handlers::Sweeper;
use tel_tests::TestStack;
use tel_tests::probed_store::ProbedStore;

pub async fn run(stored: Vec<usize>, due: usize) -> anyhow::Result<()> {
    let t = TestStack::new().await?;
    let probe = Arc::new(ProbedStore::new(t.engine.tasks().clone()));
    let sweeper = Sweeper::new(Arc::new(t.engine.rebuild().tasks(probe.clone()).build()));
    let mut total = 0;
    println!(
        "{:>10} {:>8} {:>14} {:>12}",
        "stored", "due", "index entries", "reads"
    );
    for target in stored {
        let waiting = target.saturating_sub(total + due);
        let due_ids = tel_tests::store_waiting_and_due(&t, waiting, due).await?;
        total += waiting + due;
        probe.reset();
        let report = sweeper.sweep().await;
        println!(
            "{total:>10} {:>8} {:>14} {:>12}",
            report.redelivered,
            report.due_read,
            probe.reads()
        );
        // This round's due tasks leave the index, so the next round has only its own due.
        for id in due_ids {
            if let Some(task) = t.engine.tasks().get(id).await? {
                let action = tel_core::domain::Action::Cancel {
                    reason: "benchmark round over".into(),
                    by: None,
                };
                t.engine.apply(&task, action).await?;
            }
        }
    }
    Ok(())
}
