//! The local runner as a process of its own, for tests that kill it: runs
//! every function of an existing stack (described by a JSON file written by
//! the test) until it is stopped or killed.
//!
//!   runner <stack.json> <stream-checkpoint>

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tel_engine::EngineBuilder;
use tel_engine::metrics::{Discard, Metrics};
use tel_local::{LocalRunner, LocalStack, RunnerOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tel_engine::lambda::init_tracing();
    let mut args = std::env::args().skip(1);
    let stack_file = args
        .next()
        .context("usage: runner <stack.json> <checkpoint>")?;
    let checkpoint = args
        .next()
        .context("usage: runner <stack.json> <checkpoint>")?;
    let stack: LocalStack = serde_json::from_slice(&std::fs::read(&stack_file)?)?;
    let sdk = tel_tests::sdk().await;
    // Settings from `TEL_*` as a function reads them.
    let config = stack.config_with(tel_engine::config::Settings::from_env()?)?;
    let engine = Arc::new(
        EngineBuilder::aws(&sdk, &config)
            .metrics(Metrics::new(Discard))
            .build(),
    );
    let options = RunnerOptions {
        pollers_per_function: 2,
        wait_seconds: 1,
        sweep_every: Duration::from_secs(2),
        stream_checkpoint: Some(checkpoint.into()),
        ..RunnerOptions::default()
    };
    let runner = LocalRunner::start(
        &sdk,
        &stack,
        engine.clone(),
        tel_runners::standard(&sdk, &engine),
        &options,
    )?;
    eprintln!("runner started");
    tokio::signal::ctrl_c().await?;
    runner.stop().await;
    Ok(())
}
