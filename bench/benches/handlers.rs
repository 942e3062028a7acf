//! `cargo bench -p tel-bench`: tel's own costs, without I/O.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tel_core::domain::schema::CompiledSchema;
use tel_core::domain::{DefinitionRef, ExecutionRequest, TaskDefinition};
use tel_core::ports::runner::Runners;
use tel_engine::config::Settings;
use tel_engine::metrics::{Discard, Metrics};
use tel_local::in_process::InProcessPipeline;
use tel_runners::javascript::{JavascriptRunner, SandboxLimits, run_script};

#[path = "../src/workload.rs"]
mod workload;

fn pipeline(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let pipeline = InProcessPipeline::new(Settings::default(), Metrics::new(Discard), |_| {
        Runners::default().with(Arc::new(JavascriptRunner {
            max_memory_bytes: 32 << 20,
            max_stack_bytes: 512 << 10,
        }))
    });
    runtime
        .block_on(
            pipeline
                .engine
                .definitions()
                .store()
                .register(TaskDefinition::parse(workload::definition()).unwrap()),
        )
        .unwrap();
    let request = || ExecutionRequest {
        task_instance_id: None,
        definition: DefinitionRef::parse("bench-order").unwrap(),
        workflow_instance_id: "wf".into(),
        step_id: "s".into(),
        input: workload::order(1),
        input_ref: None,
        priority: 0,
        context: Value::Null,
        task_token: None,
        traceparent: None,
        callback_envelope: false,
    };
    c.bench_function("pipeline: router+validator+executor+output, JS task", |b| {
        b.to_async(&runtime).iter(|| async {
            pipeline.run(request()).await.unwrap();
            pipeline.publisher.take();
        })
    });
}

fn sandbox(c: &mut Criterion) {
    let limits = SandboxLimits {
        memory_bytes: 32 << 20,
        stack_bytes: 512 << 10,
        timeout: Duration::from_secs(5),
    };
    let input = workload::order(1);
    let task = json!({ "attempt": 1 });
    c.bench_function("JS sandbox: create + run a small script", |b| {
        b.iter(|| run_script(workload::SOURCE, &input, &task, &limits).unwrap())
    });
}

fn schema(c: &mut Criterion) {
    let compiled = CompiledSchema::compile(&workload::input_schema()).unwrap();
    let valid = workload::order(1);
    let shuffled = workload::shuffled_order();
    let invalid = workload::invalid_order();
    c.bench_function("schema: valid instance", |b| {
        b.iter(|| compiled.is_valid(&valid))
    });
    c.bench_function("schema: valid instance, members out of order", |b| {
        b.iter(|| compiled.is_valid(&shuffled))
    });
    c.bench_function("schema: invalid instance, every error", |b| {
        b.iter(|| compiled.violations(&invalid))
    });
}

criterion_group!(benches, pipeline, sandbox, schema);
criterion_main!(benches);
