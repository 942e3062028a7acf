//! The pipeline on the local stack, beside the emulator's raw ceiling
//! measured in the same run.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use chrono::Utc;
use serde_json::json;
use tel_core::ports::OutgoingMessage;
use tel_engine::bootstrap;
use tel_local::{EventTap, LocalRunner, RunnerOptions, Template, provision};

use tel_tests::stream_records;

use crate::bill;
use crate::inprocess::{definition, order};
use crate::stats::summarize;

pub async fn run(
    tasks: usize,
    pollers: usize,
    in_flight: usize,
    outcomes_only: bool,
) -> anyhow::Result<()> {
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
    let stream_arn = stack
        .table_stream_arn
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the table has no stream"))?;
    let mut definition = definition();
    if outcomes_only {
        definition["events"] = serde_json::json!("outcomes");
    }
    let engine = engine_with_definition(&counted, &stack, definition).await?;
    // Only completions: the loop reads fewer events and refills sooner.
    let completions = r#"{"source":["task-execution-layer"],"detail-type":["task.completed"]}"#;
    let tap = EventTap::subscribe(
        &sdk,
        &stack.event_bus_name,
        &format!("{name}-tap"),
        completions,
    )
    .await?;
    // The sweeper as the template schedules it (once a minute): its cost is
    // per minute, not per task.
    let options = RunnerOptions {
        pollers_per_function: pollers,
        sweep_every: std::time::Duration::from_secs(60),
        ..RunnerOptions::default()
    };
    let runner = LocalRunner::start(
        &counted,
        &stack,
        engine.clone(),
        tel_runners::standard(&counted, &engine),
        &options,
    )?;
    let invocations = runner.invocations().clone();
    // Writes from here on are the run's: the bill prices them from the stream.
    let mark = stream_records(&sdk, &stream_arn, None)
        .await?
        .last()
        .map(|r| r.sequence.clone());
    calls.reset();
    invocations.reset();

    // Closed loop: at most `in_flight` tasks queued at once. moto's SQS does
    // O(queue depth) work per call, so a deep backlog would measure moto, not tel.
    let requests_queue = stack.config()?.queues.requests;
    let mut submitted = HashMap::new();
    let mut latencies = Vec::new();
    // When a subscriber to the bus heard of the completion (publishing included).
    let mut heard = Vec::new();
    // From the completing write to a subscriber having its event: the event lag.
    let mut lag = Vec::new();
    let mut last_heard = Utc::now();
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
                let now = Utc::now();
                latencies.push((at - *sent).to_std().unwrap_or_default());
                heard.push((now - *sent).to_std().unwrap_or_default());
                lag.push((now - at).to_std().unwrap_or_default());
                last_heard = last_heard.max(now);
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
    let usage = calls.snapshot();
    let functions = invocations.snapshot();
    tap.close().await;
    let writes = stream_records(&sdk, &stream_arn, mark).await?;
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
    println!(
        "  request sent → a bus subscriber has the event: {}",
        summarize(heard)
    );
    println!(
        "  task.completed written → a bus subscriber has it: {}; the last heard {:.1}s after the last completion",
        summarize(lag),
        (last_heard - last)
            .to_std()
            .unwrap_or_default()
            .as_secs_f64()
    );
    let tasks = completed.max(1) as f64;
    let total: u64 = usage.calls.values().sum();
    println!(
        "  AWS calls per task: {:.1} in all (the bench's submission and the local stream reads included)",
        total as f64 / tasks
    );
    for (operation, count) in &usage.calls {
        println!("    {operation:<22} {:>6.2}", *count as f64 / tasks);
    }
    let deployment = bill::Deployment::from_template();
    let on_aws = bill::calls_on_aws(&usage, &functions, &deployment, tasks);
    println!(
        "  AWS calls per task on AWS: {:.1} (the same handler calls; Lambda's event source mappings receive, delete and read the stream in full batches of {} / {})",
        on_aws.values().sum::<f64>(),
        deployment.sqs_batch_size,
        deployment.stream_batch_size
    );
    for (operation, count) in &on_aws {
        println!("    {operation:<22} {count:>6.2}");
    }
    println!(
        "  function invocations on the local stack (per task: invocations, records; mean ms per invocation):"
    );
    for (function, stats) in &functions {
        println!(
            "    {function:<14} {:>6.2} {:>6.2} {:>8.1}",
            stats.invocations as f64 / tasks,
            stats.records as f64 / tasks,
            stats.busy.as_secs_f64() * 1000.0 / stats.invocations.max(1) as f64
        );
    }
    let described = aws_sdk_dynamodb::Client::new(&sdk)
        .describe_table()
        .table_name(&stack.table_name)
        .send()
        .await?;
    let table = described
        .table()
        .ok_or_else(|| anyhow::anyhow!("no table description"))?;
    let priced = bill::price_writes(
        &writes,
        &bill::index_shapes(table),
        &usage.transactional_writes,
    );
    let mut sizes = priced.task_item_sizes.clone();
    sizes.sort_unstable();
    println!(
        "  DynamoDB writes per task: {:.2}; task item {}–{} bytes (median {}), largest item written {} bytes",
        priced.writes as f64 / tasks,
        sizes.first().unwrap_or(&0),
        sizes.last().unwrap_or(&0),
        sizes.get(sizes.len() / 2).unwrap_or(&0),
        priced.largest_item
    );
    let measured = bill::Measured {
        tasks,
        usage: &usage,
        writes: &priced,
        invocations: &functions,
    };
    let the_bill = bill::bill(&measured, &deployment);
    println!(
        "the bill per automated task on AWS (us-east-1 list prices of {}; Lambda at the template's batch sizes {} / {} and memory):",
        crate::prices::PRICES_AS_OF,
        deployment.sqs_batch_size,
        deployment.stream_batch_size
    );
    for (what, units, dollars) in &the_bill.lines {
        println!(
            "    {what:<58} {units:>8.3}   ${:>7.3} per million",
            dollars * 1e6
        );
    }
    println!(
        "    {:<58} {:>8}   ${:>7.3} per million tasks",
        "total",
        "",
        the_bill.total() * 1e6
    );
    let executor = functions.get("executor").copied().unwrap_or_default();
    let step_seconds = executor.busy.as_secs_f64() / executor.records.max(1) as f64;
    for (what, dollars) in bill::step_functions(step_seconds) {
        println!(
            "    {what:<58} {:>8}   ${:>7.3} per million steps",
            "",
            dollars * 1e6
        );
    }
    stack.destroy(&sdk).await?;
    Ok(())
}

/// Every record of the table's stream after `after` (from the start without it).
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

/// An engine for `stack` (metrics discarded) with the workload's definition registered.
pub(crate) async fn engine_with_definition(
    sdk: &aws_config::SdkConfig,
    stack: &tel_local::LocalStack,
    definition: serde_json::Value,
) -> anyhow::Result<std::sync::Arc<tel_engine::TaskEngine>> {
    use tel_engine::metrics::{Discard, Metrics};
    let engine = std::sync::Arc::new(
        tel_engine::EngineBuilder::aws(sdk, &stack.config()?)
            .metrics(Metrics::new(Discard))
            .build(),
    );
    engine
        .definitions()
        .store()
        .register(tel_core::domain::TaskDefinition::parse(definition).map_err(anyhow::Error::msg)?)
        .await?;
    Ok(engine)
}
