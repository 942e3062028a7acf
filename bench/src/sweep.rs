//! What a sweep reads with 50 tasks due among many stored: the deadline
//! index is sparse, so the count should not move with the stored total.

use std::sync::Arc;

use chrono::{Duration, Utc};
use futures::StreamExt;
use serde_json::{Value, json};
use tel_shared::domain::{Creation, NewTask, TaskInstanceId};
use tel_shared::handlers::{Services, Sweeper};
use tel_tests::TestStack;
use tel_tests::probed_store::ProbedStore;

pub async fn run(stored: Vec<usize>, due: usize) -> anyhow::Result<()> {
    let t = TestStack::new().await?;
    let probe = Arc::new(ProbedStore::new(t.services.tasks.clone()));
    let sweeper = Sweeper::new(Arc::new(Services {
        tasks: probe.clone(),
        ..(*t.services).clone()
    }));
    let mut total = 0;
    println!(
        "{:>10} {:>8} {:>14} {:>12}",
        "stored", "due", "index entries", "reads"
    );
    for target in stored {
        let waiting = target.saturating_sub(total + due);
        let now = Utc::now();
        let mut due_ids = Vec::new();
        let creations: Vec<Creation> = (0..waiting + due)
            .map(|i| {
                let at = if i < due {
                    now - Duration::seconds(1)
                } else {
                    now + Duration::hours(1)
                };
                Creation::new(
                    NewTask {
                        task_instance_id: TaskInstanceId::new(),
                        definition_name: "bench".into(),
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
                    at,
                )
            })
            .collect();
        due_ids.extend(creations[..due].iter().map(|c| c.task.task_instance_id));
        futures::stream::iter(creations.into_iter().map(|creation| {
            let store = t.services.tasks.clone();
            async move {
                store.create(&creation, None).await?;
                // As after a successful publish: no outbox entry is left behind.
                let events: Vec<String> =
                    creation.events.iter().map(|e| e.event_id.clone()).collect();
                store
                    .clear_outbox(creation.task.task_instance_id, &events)
                    .await
            }
        }))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
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
            if let Some(task) = t.services.tasks.get(id).await? {
                let action = tel_shared::domain::Action::Cancel {
                    reason: "benchmark round over".into(),
                    by: None,
                };
                t.services.apply(&task, action).await?;
            }
        }
    }
    Ok(())
}
