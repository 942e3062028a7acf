//! Costs without I/O: the handlers over in-memory ports, the sandbox alone,
//! and schema validation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tel_shared::config::Settings;
use tel_shared::domain::schema::CompiledSchema;
use tel_shared::domain::{DefinitionRef, ExecutionRequest, TaskDefinition, TaskStatus};
use tel_shared::local::in_process::InProcessPipeline;
use tel_shared::metrics::{Discard, Metrics};
use tel_shared::runners::Runners;
use tel_shared::runners::javascript::{JavascriptRunner, SandboxLimits, run_script};

use crate::stats::summarize;

pub const SOURCE: &str = "export default (order) => {\n  const subtotal = order.items.reduce((s, i) => s + i.price * i.quantity, 0);\n  return { orderId: order.orderId, total: subtotal };\n}";

pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "required": ["orderId", "items"],
        "properties": {
            "orderId": { "type": "string", "minLength": 1 },
            "items": { "type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["sku", "price", "quantity"],
                "properties": { "sku": { "type": "string" }, "price": { "type": "number", "minimum": 0 }, "quantity": { "type": "integer", "minimum": 1 } }
            } }
        }
    })
}

pub fn definition() -> Value {
    json!({
        "name": "bench-order", "type": "automated",
        "implementation": { "kind": "javascript", "source": SOURCE },
        "inputSchema": input_schema(),
        "outputSchema": { "type": "object", "required": ["orderId", "total"], "properties": { "total": { "type": "number" } } }
    })
}

pub fn order(i: usize) -> Value {
    json!({ "orderId": format!("o-{i}"), "items": [
        { "sku": "A", "price": 12.5, "quantity": 2 }, { "sku": "B", "price": 1.25, "quantity": 4 }, { "sku": "C", "price": 3.0, "quantity": 1 }
    ] })
}

pub async fn run(tasks: usize) -> anyhow::Result<()> {
    let pipeline = InProcessPipeline::new(Settings::default(), Metrics::new(Discard), |_| {
        Runners::default().with(Arc::new(JavascriptRunner {
            max_memory_bytes: 32 << 20,
            max_stack_bytes: 512 << 10,
        }))
    });
    pipeline
        .services
        .definitions
        .store()
        .register(TaskDefinition::parse(definition()).map_err(anyhow::Error::msg)?)
        .await?;
    let request = |i| ExecutionRequest {
        task_instance_id: None,
        definition: DefinitionRef::parse("bench-order").expect("valid"),
        workflow_instance_id: format!("wf-{i}"),
        step_id: "s".into(),
        input: order(i),
        priority: 0,
        context: Value::Null,
    };
    for i in 0..50 {
        pipeline.run(request(i)).await?;
    }
    let mut samples = Vec::with_capacity(tasks);
    let started = Instant::now();
    for i in 0..tasks {
        let t0 = Instant::now();
        let task = pipeline.run(request(i)).await?;
        samples.push(t0.elapsed());
        anyhow::ensure!(
            task.status == TaskStatus::Completed,
            "task ended {}",
            task.status
        );
        pipeline.publisher.take();
    }
    let elapsed = started.elapsed();
    println!(
        "in-process pipeline (router+validator+executor+output validation, JS task, in-memory ports)"
    );
    println!("  per task: {}", summarize(samples));
    println!(
        "  throughput: {:.0} tasks/s on one thread",
        tasks as f64 / elapsed.as_secs_f64()
    );

    let limits = SandboxLimits {
        memory_bytes: 32 << 20,
        stack_bytes: 512 << 10,
        timeout: Duration::from_secs(5),
    };
    let input = order(1);
    let task = json!({ "attempt": 1 });
    let mut samples = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let t0 = Instant::now();
        run_script(SOURCE, &input, &task, &limits).map_err(|f| anyhow::anyhow!(f.error.message))?;
        samples.push(t0.elapsed());
    }
    println!("JS sandbox alone (fresh QuickJS runtime + context + module + call, per task)");
    println!("  per run: {}", summarize(samples));
    Ok(())
}

pub fn schema(iterations: usize) -> anyhow::Result<()> {
    let compiled = CompiledSchema::compile(&input_schema()).map_err(anyhow::Error::msg)?;
    let valid = order(1);
    let invalid = json!({ "orderId": "", "items": [{ "sku": 5, "price": -1, "quantity": 0 }] });
    let time = |f: &dyn Fn() -> usize| {
        let t0 = Instant::now();
        let mut sink = 0;
        for _ in 0..iterations {
            sink += f();
        }
        (t0.elapsed(), sink)
    };
    let (valid_time, _) = time(&|| usize::from(compiled.is_valid(&valid)));
    let (invalid_time, errors) = time(&|| compiled.violations(&invalid).len());
    let rate = |d: Duration| iterations as f64 / d.as_secs_f64();
    println!("schema validation (order schema, compiled once)");
    println!(
        "  valid instance, is_valid:        {:>10.0}/s  ({:.0} ns each)",
        rate(valid_time),
        valid_time.as_nanos() as f64 / iterations as f64
    );
    println!(
        "  invalid instance, all {} errors: {:>10.0}/s  ({:.0} ns each)",
        errors / iterations,
        rate(invalid_time),
        invalid_time.as_nanos() as f64 / iterations as f64
    );
    Ok(())
}
