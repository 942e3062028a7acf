//! `tel`: run the whole stack locally, provision resources, register
//! definitions, submit requests and inspect tasks.

mod commands;
mod environment;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = commands::Cli::parse();
    // The environment is settled before any thread exists.
    let started_emulator = cli.prepare_environment()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(cli.run());
    if let Some(engine) = started_emulator {
        environment::stop_emulator(engine);
    }
    result
}
