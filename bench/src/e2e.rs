//! The pipeline on the local stack, beside the emulator's raw ceiling
//! measured in the same run.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use chrono::Utc;
use serde_json::json;
use tel_shared::bootstrap;
use tel_shared::domain::TaskDefinition;
use tel_shared::engine::EngineBuilder;
use tel_shared::local::{EventTap, LocalRunner, RunnerOptions, Template, provision};
use tel_shared::metrics::{Discard, Metrics};
use tel_shared::ports::OutgoingMessage;

use crate::inprocess::{definition, order};
use crate::stats::summarize;

pub async fn run(tasks: usize, pollers: usize, in_flight: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "set AWS_ENDPOINT_URL (localstack/emulator.sh start)"
    );
    let sdk = bootstrap::sdk_config().await;
    let name = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let overrides = BTreeMap::from([("VisibilityTimeoutSeconds".to_owned(), "30".to_owned())]);
    let stack = provision(&sdk, &Template::embedded(), &name, &overrides).await?;

    let (sqs_rate, sqs_calls) = sqs_ceiling(&sdk, &stack.queue("ManualQueue")?.url, 100).await?;
    let (put_rate, get_rate) = dynamo_ceiling(&sdk, &stack.table_name, 500).await?;

    let (counted, calls) = crate::call_count::counting(&sdk);
    let engine = Arc::new(
        EngineBuilder::aws(&counted, &stack.config()?)
            .metrics(Metrics::new(Discard))
            .build(),
    );
    engine
        .definitions()
        .store()
        .register(TaskDefinition::parse(definition()).map_err(anyhow::Error::msg)?)
        .await?;
    // Only completions: the loop reads fewer events and refills sooner.
    let completions = r#"{"source":["task-execution-layer"],"detail-type":["task.completed"]}"#;
    let tap = EventTap::subscribe(
        &sdk,
        &stack.event_bus_name,
        &format!("{name}-tap"),
        completions,
    )
    .await?;
    let options = RunnerOptions {
        pollers_per_function: pollers,
        ..RunnerOptions::default()
    };
    let runner = LocalRunner::start(
        &counted,
        &stack,
        engine.clone(),
        bootstrap::runners(&counted, &engine),
        &options,
    )?;
    calls.reset();

    // Closed loop: at most `in_flight` tasks queued at once. moto's SQS does
    // O(queue depth) work per call, so a deep backlog would measure moto, not tel.
    let requests_queue = stack.config()?.queues.requests;
    let mut submitted = HashMap::new();
    let mut latencies = Vec::new();
    let started = Instant::now();
    let start_time = Utc::now();
    let mut last = start_time;
    let mut next = 0;
    while latencies.len() < tasks && started.elapsed() < Duration::from_secs(900) {
        let room = in_flight
            .saturating_sub(next - latencies.len())
            .min(tasks - next);
        let mut messages = Vec::new();
        for i in next..next + room {
            let id = uuid::Uuid::now_v7().to_string();
            let body = json!({ "taskInstanceId": id, "taskDefinitionId": "bench-order", "workflowInstanceId": format!("wf-{i}"), "stepId": "s", "input": order(i) });
            submitted.insert(id, Utc::now());
            messages.push(OutgoingMessage {
                trace: None,
                body: body.to_string(),
                delay_seconds: 0,
            });
        }
        next += room;
        if !messages.is_empty() {
            engine.queues().send(&requests_queue, messages).await?;
        }
        for event in tap.receive(1).await? {
            if event["detail-type"] != "task.completed" {
                continue;
            }
            let id = event["detail"]["taskInstanceId"]
                .as_str()
                .unwrap_or_default();
            let at: chrono::DateTime<Utc> = event["detail"]["occurredAt"]
                .as_str()
                .unwrap_or_default()
                .parse()?;
            if let Some(sent) = submitted.get(id) {
                latencies.push((at - *sent).to_std().unwrap_or_default());
                // Progress on stderr, every tenth of the run.
                if latencies.len() % (tasks / 10).max(1) == 0 {
                    eprintln!(
                        "  {}/{tasks} completed after {:.1}s",
                        latencies.len(),
                        started.elapsed().as_secs_f64()
                    );
                }
                last = last.max(at);
            }
        }
    }
    runner.stop().await;
    let per_task = calls.snapshot();
    tap.close().await;
    let span = (last - start_time).to_std()?.as_secs_f64();
    let completed = latencies.len();
    println!("emulator ceiling (same run, one client, sequential calls):");
    println!(
        "  SQS send+receive+delete in batches of 10: {sqs_rate:.0} messages/s ({sqs_calls:.0} API calls/s)"
    );
    println!("  DynamoDB PutItem: {put_rate:.0}/s, GetItem: {get_rate:.0}/s");
    println!(
        "pipeline on the local stack ({pollers} pollers per function, at most {in_flight} tasks in flight, JS task):"
    );
    println!(
        "  {completed}/{tasks} completed in {span:.1}s: {:.1} tasks/s",
        completed as f64 / span
    );
    println!("  request sent → task.completed: {}", summarize(latencies));
    let total: u64 = per_task.values().sum();
    println!(
        "  AWS calls per task: {:.1} in all (submission by the bench included)",
        total as f64 / completed.max(1) as f64
    );
    for (operation, count) in &per_task {
        println!(
            "    {operation:<22} {:>6.2}",
            *count as f64 / completed.max(1) as f64
        );
    }
    stack.destroy(&sdk).await?;
    Ok(())
}

/// Messages/s through send, receive and delete, each in batches of 10, the
/// queue never deeper than one batch; and API calls/s.
async fn sqs_ceiling(
    sdk: &aws_config::SdkConfig,
    queue_url: &str,
    rounds: usize,
) -> anyhow::Result<(f64, f64)> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let started = Instant::now();
    let (mut calls, mut moved) = (0usize, 0usize);
    for round in 0..rounds {
        let entries = (0..10)
            .map(|i| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(format!("{round}-{i}"))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        sqs.send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
        let mut received = 0;
        while received < 10 {
            let out = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .send()
                .await?;
            let batch = out.messages.unwrap_or_default();
            received += batch.len();
            let entries = batch
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            calls += 1;
            if !entries.is_empty() {
                sqs.delete_message_batch()
                    .queue_url(queue_url)
                    .set_entries(Some(entries))
                    .send()
                    .await?;
                calls += 1;
            }
        }
        calls += 1;
        moved += received;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok((moved as f64 / secs, calls as f64 / secs))
}

/// PutItem/s and GetItem/s, sequential.
async fn dynamo_ceiling(
    sdk: &aws_config::SdkConfig,
    table: &str,
    items: usize,
) -> anyhow::Result<(f64, f64)> {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let key = |i: usize| {
        (
            AttributeValue::S(format!("BENCH#{i}")),
            AttributeValue::S("X".into()),
        )
    };
    let started = Instant::now();
    for i in 0..items {
        let (pk, sk) = key(i);
        dynamo
            .put_item()
            .table_name(table)
            .item("PK", pk)
            .item("SK", sk)
            .item("v", AttributeValue::N(i.to_string()))
            .send()
            .await?;
    }
    let put = items as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for i in 0..items {
        let (pk, sk) = key(i);
        dynamo
            .get_item()
            .table_name(table)
            .key("PK", pk)
            .key("SK", sk)
            .consistent_read(true)
            .send()
            .await?;
    }
    let get = items as f64 / started.elapsed().as_secs_f64();
    Ok((put, get))
}
