//! The deployed stack (`tel deploy --local` on LocalStack) beside `tel dev`'s
//! runner on the same emulator, with the same workload: one task at a time,
//! from the request sent on the queue to a bus subscriber hearing
//! `task.completed`. The first task after a deploy meets every function cold;
//! the rest are warm. Each function's init time (process start to its first
//! `GET /runtime/invocation/next`) and memory come from the REPORT lines our
//! host executor writes to the function's log stream.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use tel_local::deploy::FUNCTION_BINARIES;
use tel_local::event_tap::EventTap;
use tel_local::{LocalRunner, RunnerOptions, Template, provision};
use tel_tests::api::As;
use tel_tests::deployed::Deployed;

use crate::stats::summarize;
use crate::workload::{definition, order};

/// Sends `tasks` requests one after another to `queue`, each once the last
/// was heard of; the latency of each, the first apart.
async fn one_at_a_time(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    tap: &EventTap,
    tasks: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::new();
    for i in 0..tasks {
        let id = uuid::Uuid::now_v7().to_string();
        let body = json!({ "taskInstanceId": id, "taskDefinitionId": "bench-order", "workflowInstanceId": format!("wf-{i}"), "stepId": "s", "input": order(i) });
        let sent = Instant::now();
        sqs.send_message()
            .queue_url(queue)
            .message_body(body.to_string())
            .send()
            .await?;
        'heard: loop {
            anyhow::ensure!(
                sent.elapsed() < Duration::from_secs(120),
                "task {id} not heard of in 2 minutes"
            );
            for event in tap.receive(1).await? {
                if event["detail"]["taskInstanceId"] == id.as_str() {
                    break 'heard;
                }
            }
        }
        latencies.push(sent.elapsed());
    }
    Ok(latencies)
}

fn print_latencies(label: &str, latencies: &[Duration]) {
    let (first, rest) = latencies.split_first().expect("tasks");
    println!(
        "{label}: first task {first:.3?}; then {}",
        summarize(rest.to_vec())
    );
}

/// `Init Duration` and `Max Memory Used` of every REPORT line a function logged.
async fn reports(d: &Deployed, function: &str) -> anyhow::Result<(Vec<f64>, u64)> {
    let mut inits = Vec::new();
    let mut memory = 0;
    for line in d.logged(function, "REPORT").await? {
        let field = |name: &str| {
            line.split('\t')
                .find_map(|f| f.trim().strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        };
        inits.extend(field("Init Duration: "));
        memory = memory.max(field("Max Memory Used: ").unwrap_or(0.0) as u64);
    }
    Ok((inits, memory))
}

pub async fn run(tasks: usize) -> anyhow::Result<()> {
    let d = Deployed::connect().await?;
    let (status, body) = d
        .api
        .call(
            &As::admin(),
            reqwest::Method::PUT,
            "/definitions/bench-order",
            Some(definition()),
        )
        .await;
    anyhow::ensure!(status.is_success(), "registering: {status} {body}");
    let sqs = aws_sdk_sqs::Client::new(&d.sdk);
    let completions = r#"{"source":["task-execution-layer"],"detail-type":["task.completed"]}"#;
    let name = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let tap = EventTap::subscribe(&d.sdk, &d.stack.event_bus_name, &name, completions).await?;
    let deployed = one_at_a_time(&sqs, &d.queue_url("RequestsQueue"), &tap, tasks).await?;
    tap.close().await;
    println!(
        "deployed stack {} ({tasks} tasks, one at a time)",
        d.stack_name
    );
    print_latencies("  deployed", &deployed);
    println!("  function         cold starts  init ms (each)             max memory");
    for function in FUNCTION_BINARIES {
        let (inits, memory) = reports(&d, function).await?;
        let text: Vec<String> = inits.iter().map(|i| format!("{i:.1}")).collect();
        println!(
            "  {function:<16} {:>11}  {:<25} {memory} MB",
            inits.len(),
            text.join(", ")
        );
    }

    // The same workload through tel dev's runner, on the same emulator.
    let stack = provision(
        &d.sdk,
        &Template::embedded(),
        &name,
        &BTreeMap::from([("VisibilityTimeoutSeconds".to_owned(), "30".to_owned())]),
    )
    .await?;
    let engine =
        crate::e2e::engine_with_definition(&d.sdk, &stack, crate::workload::definition()).await?;
    let runner = LocalRunner::start(
        &d.sdk,
        &stack,
        engine.clone(),
        tel_runners::standard(&d.sdk, &engine),
        &RunnerOptions::default(),
    )?;
    let tap = EventTap::subscribe(
        &d.sdk,
        &stack.event_bus_name,
        &format!("{name}-dev"),
        completions,
    )
    .await?;
    let dev = one_at_a_time(&sqs, &stack.config()?.queues.requests, &tap, tasks).await?;
    tap.close().await;
    runner.stop().await;
    print_latencies("  tel dev's runner", &dev);
    Ok(())
}
