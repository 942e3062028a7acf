//! Costs without I/O: the handlers over in-memory ports, the sandbox alone,
//! and schema validation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tel_core::domain::schema::CompiledSchema;
use tel_core::domain::{DefinitionRef, ExecutionRequest, TaskDefinition, TaskStatus};
use tel_core::ports::runner::Runners;
use tel_engine::config::Settings;
use tel_engine::metrics::{Discard, Metrics};
use tel_local::in_process::InProcessPipeline;
use tel_runners::javascript::{JavascriptRunner, SandboxLimits, run_script};

use crate::stats::summarize;

pub use crate::workload::{SOURCE, definition, input_schema, order};

pub async fn run(tasks: usize) -> anyhow::Result<()> {
    let pipeline = InProcessPipeline::new(Settings::default(), Metrics::new(Discard), |_| {
        Runners::default().with(Arc::new(JavascriptRunner {
            max_memory_bytes: 32 << 20,
            max_stack_bytes: 512 << 10,
        }))
    });
    pipeline
        .engine
        .definitions()
        .store()
        .register(TaskDefinition::parse(definition()).map_err(anyhow::Error::msg)?)
        .await?;
    let request = |i| ExecutionRequest {
        task_instance_id: None,
        definition: DefinitionRef::parse("bench-order").expect("valid"),
        workflow_instance_id: format!("wf-{i}"),
        step_id: "s".into(),
        input: order(i),
        input_ref: None,
        priority: 0,
        context: Value::Null,
        task_token: None,
        traceparent: None,
        callback_envelope: false,
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
    let mut sorted: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    sorted.sort_by(f64::total_cmp);
    let p50 = sorted[sorted.len() / 2];
    println!(
        "JS sandbox alone (fresh QuickJS runtime + context, the script's bytecode loaded, call; per task)"
    );
    println!("  per run: {}", summarize(samples));
    match node_vm(tasks) {
        Ok(node_p50) => println!(
            "  anchor: node:vm, a fresh context per task: p50 {node_p50:.1} µs; tel / node = {:.2} (goal ≤ 0.25)",
            p50 / node_p50
        ),
        Err(e) => println!("  anchor: node:vm not run ({e})"),
    }
    Ok(())
}

/// The same task in a fresh `node:vm` context per task: p50 µs.
fn node_vm(tasks: usize) -> anyhow::Result<f64> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("node-vm/sandbox.mjs");
    node(&script, &tasks.to_string())?["p50Us"]
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("node printed no p50"))
}

/// What a Node anchor script prints (one JSON value), given one argument.
fn node(script: &std::path::Path, argument: &str) -> anyhow::Result<Value> {
    let out = std::process::Command::new("node")
        .arg(script)
        .arg(argument)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "node: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// ajv's nanoseconds per validation of the same instances as tel's.
struct AjvTimes {
    valid: f64,
    shuffled: f64,
    invalid: f64,
    errors: u64,
}

/// The same schema and instances through ajv (Node).
fn ajv(iterations: usize) -> anyhow::Result<AjvTimes> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ajv");
    if !dir.join("node_modules/ajv").exists() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--silent", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()?;
        anyhow::ensure!(status.success(), "npm ci in bench/ajv failed");
    }
    let workload = std::env::temp_dir().join(format!("tel-ajv-{}.json", std::process::id()));
    std::fs::write(
        &workload,
        json!({
            "schema": input_schema(),
            "valid": order(1),
            "shuffled": crate::workload::shuffled_order(),
            "invalid": crate::workload::invalid_order(),
            "iterations": iterations
        })
        .to_string(),
    )?;
    let v = node(&dir.join("validate.mjs"), &workload.to_string_lossy());
    let _ = std::fs::remove_file(&workload);
    let v = v?;
    Ok(AjvTimes {
        valid: v["validNs"].as_f64().unwrap_or(0.0),
        shuffled: v["shuffledNs"].as_f64().unwrap_or(0.0),
        invalid: v["invalidNs"].as_f64().unwrap_or(0.0),
        errors: v["invalidErrors"].as_u64().unwrap_or(0),
    })
}

/// Rounds of each measurement; the best is printed. This host's speed
/// wanders by a third from minute to minute, which the best of several
/// rounds mostly leaves out (ajv's script warms its JIT the same way).
const SCHEMA_ROUNDS: usize = 7;

pub fn schema(iterations: usize) -> anyhow::Result<()> {
    let schema = input_schema();
    let compiled = CompiledSchema::compile(&schema).map_err(anyhow::Error::msg)?;
    // The crate alone, as tel validated every schema before its own plain
    // validator: the "before" of docs/benchmarks.md, from the same run.
    let general = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)?;
    let valid = order(1);
    let shuffled = crate::workload::shuffled_order();
    let invalid = crate::workload::invalid_order();
    let best_ns = |f: &dyn Fn() -> usize| {
        (0..SCHEMA_ROUNDS)
            .map(|_| {
                let t0 = Instant::now();
                let mut sink = 0;
                for _ in 0..iterations {
                    sink += f();
                }
                std::hint::black_box(sink);
                t0.elapsed().as_nanos() as f64 / iterations as f64
            })
            .fold(f64::MAX, f64::min)
    };
    let valid_ns = best_ns(&|| usize::from(compiled.is_valid(std::hint::black_box(&valid))));
    let shuffled_ns = best_ns(&|| usize::from(compiled.is_valid(std::hint::black_box(&shuffled))));
    let invalid_ns = best_ns(&|| compiled.violations(std::hint::black_box(&invalid)).len());
    let errors = compiled.violations(&invalid).len();
    let crate_valid_ns = best_ns(&|| usize::from(general.is_valid(std::hint::black_box(&valid))));
    // What tel built from the crate's errors: both paths and the message.
    let crate_invalid_ns = best_ns(&|| {
        general
            .iter_errors(std::hint::black_box(&invalid))
            .map(|e| {
                let paths = (
                    e.instance_path().as_str().to_owned(),
                    e.schema_path().as_str().to_owned(),
                );
                paths.0.len() + paths.1.len() + e.to_string().len()
            })
            .count()
    });
    println!(
        "schema validation (order schema, compiled once; best of {SCHEMA_ROUNDS} rounds of {iterations})"
    );
    let line = |who: &str, ns: f64| println!("  {who:<38} {:>10.0}/s  ({ns:.0} ns each)", 1e9 / ns);
    line("tel, valid instance:", valid_ns);
    line("tel, valid, members out of order:", shuffled_ns);
    line(&format!("tel, invalid, all {errors} errors:"), invalid_ns);
    line("jsonschema crate alone, valid:", crate_valid_ns);
    line(
        &format!("jsonschema crate alone, all {errors} errors:"),
        crate_invalid_ns,
    );
    match ajv(iterations) {
        Ok(ajv) => {
            line(
                &format!("ajv 8 (Node {}), valid:", node_version()),
                ajv.valid,
            );
            line("ajv 8, valid, members out of order:", ajv.shuffled);
            line(
                &format!("ajv 8, invalid, all {} errors:", ajv.errors),
                ajv.invalid,
            );
            println!(
                "  tel / ajv (goal: valid <= 1.5, invalid <= 3): valid {:.2}, invalid {:.2}; out of order {:.2}; the crate alone: {:.2}, {:.2}",
                valid_ns / ajv.valid,
                invalid_ns / ajv.invalid,
                shuffled_ns / ajv.shuffled,
                crate_valid_ns / ajv.valid,
                crate_invalid_ns / ajv.invalid
            );
        }
        Err(e) => println!("  ajv not run: {e}"),
    }
    Ok(())
}

fn node_version() -> String {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use crate::workload::{input_schema, invalid_order, order};
    use tel_core::domain::schema::CompiledSchema;

    /// The report the bench times: every error, in the `jsonschema` crate's
    /// order (which tel's own validator for plain schemas keeps).
    #[test]
    fn the_invalid_order_is_reported_field_by_field() {
        let schema = CompiledSchema::compile(&input_schema()).unwrap();
        assert!(schema.is_valid(&order(1)));
        assert!(schema.is_valid(&crate::workload::shuffled_order()));
        let report: Vec<(String, String)> = schema
            .violations(&invalid_order())
            .into_iter()
            .map(|v| (v.instance_path().to_owned(), v.message().to_owned()))
            .collect();
        let expected = [
            ("/orderId", r#""" is shorter than 1 character"#),
            ("/items/0/sku", r#"5 is not of type "string""#),
            ("/items/0/price", "-1 is less than the minimum of 0"),
            ("/items/0/quantity", "0 is less than the minimum of 1"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(path, message)| (path.to_string(), message.to_string()))
            .collect();
        assert_eq!(report, expected);
    }
}
