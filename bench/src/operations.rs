//! A bulk retry of `failed` FAILED tasks of one definition among `stored`
//! others (other definitions, other codes, completed tasks): its throughput
//! at the asked pace, and the AWS calls per task acted on. The selection
//! reads the operations index's partition of the definition and status,
//! so what it reads does not grow with what is stored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use serde_json::json;
use tel_core::domain::operation::{BulkAction, OperationState, Selection};
use tel_core::domain::{Action, Creation, Identity, TaskDefinition, TaskError};
use tel_engine::EngineBuilder;
use tel_engine::operations::{BulkRequest, OperationRunner};
use tel_tests::TestStack;

async fn store(t: &TestStack, definition: &TaskDefinition, code: Option<&str>, count: usize) {
    let now = Utc::now();
    futures::stream::iter(0..count)
        .map(|_| async move {
            let created = Creation::new(tel_tests::new_task(definition), now, now);
            let action = match code {
                Some(code) => Action::Fail {
                    error: TaskError::new(code, "the downstream was down"),
                },
                None => Action::Cancel {
                    reason: "filler".into(),
                    by: None,
                },
            };
            let task = created.then(action, now).expect("a new task may end").task;
            t.engine.tasks().create(&task).await.expect("stored");
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

pub async fn run(failed: usize, stored: usize, rate: u32) -> anyhow::Result<()> {
    let t = TestStack::new().await?;
    let definition = |name: &str| json!({ "name": name, "type": "automated", "implementation": { "kind": "javascript", "source": "export default (i) => i" } });
    let charge = t.register(definition("charge")).await?;
    let refund = t.register(definition("refund")).await?;
    let began = Instant::now();
    store(&t, &charge, Some("INTEGRATION_ERROR"), failed).await;
    // The rest: failed with another code, another definition's failures, ended tasks.
    store(&t, &charge, Some("VALIDATION_ERROR"), stored / 4).await;
    store(&t, &refund, Some("INTEGRATION_ERROR"), stored / 4).await;
    store(&t, &refund, None, stored - 2 * (stored / 4)).await;
    println!(
        "stored {} tasks in {:.1} s",
        failed + stored,
        began.elapsed().as_secs_f64()
    );

    let (counted, calls) = crate::call_count::counting(&t.sdk);
    let engine = Arc::new(EngineBuilder::aws(&counted, &t.stack.config()?).build());
    let admin = Identity {
        user: "bench".into(),
        groups: vec![],
        admin: true,
    };
    let selection = Selection {
        definition: "charge".into(),
        version: None,
        statuses: vec![tel_core::domain::TaskStatus::Failed],
        error_code: Some("INTEGRATION_ERROR".into()),
        since: None,
        until: chrono::DateTime::<Utc>::MAX_UTC,
    };
    calls.reset();
    let counting = Instant::now();
    let matched = engine
        .count_matching(BulkAction::Retry, selection.clone(), &admin)
        .await?;
    let count_calls = calls.snapshot();
    println!(
        "count: {} match in {:.0} ms, {} Query call(s)",
        matched.count,
        counting.elapsed().as_secs_f64() * 1000.0,
        count_calls.calls.get("Query").copied().unwrap_or(0)
    );

    let operation = engine
        .start_operation(
            BulkRequest {
                action: BulkAction::Retry,
                selection,
                reason: None,
                rate_per_second: Some(rate),
            },
            &admin,
        )
        .await?;
    calls.reset();
    let runner = OperationRunner::new(engine.clone());
    let running = Instant::now();
    loop {
        runner.run_due(Duration::from_secs(40)).await;
        let now = engine
            .operations()
            .operation(&operation.operation_id)
            .await?
            .expect("the operation");
        if now.state != OperationState::Running {
            let seconds = running.elapsed().as_secs_f64();
            let acted = now.progress.acted.max(1);
            println!(
                "retry: {} acted on ({} skipped, {} failed) in {seconds:.1} s: {:.0} tasks/s at a pace of {rate}/s",
                now.progress.acted,
                now.progress.skipped,
                now.progress.failed,
                now.progress.acted as f64 / seconds
            );
            let usage = calls.snapshot();
            let total: u64 = usage.calls.values().sum();
            println!(
                "AWS calls per task acted on: {:.2} ({} in all)",
                total as f64 / acted as f64,
                total
            );
            for (call, n) in &usage.calls {
                println!("  {call:<22} {:>8.3}", *n as f64 / acted as f64);
            }
            return Ok(());
        }
    }
}
