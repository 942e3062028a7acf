//! `tel-bench`: the numbers in README.md, reproduced by hand.
//!
//!   cargo run --release -p tel-bench -- inprocess   handlers' own cost per task, no I/O
//!   cargo run --release -p tel-bench -- schema      JSON Schema validations per second
//!   cargo run --release -p tel-bench -- sweep       a sweep's reads among 1,000 and 50,000 stored tasks
//!   cargo run --release -p tel-bench -- startup     each function's start-to-ready, memory and size
//!   cargo run --release -p tel-bench -- e2e         tasks/s on the local stack beside the emulator's raw ceiling
//!   cargo run --release -p tel-bench -- views       the inbox views' first pages among 10,000 open tasks of one group
//!   cargo run --release -p tel-bench -- operations  a bulk retry of 2,000 failed tasks among others: pace, throughput, calls per task
//!   cargo run --release -p tel-bench -- notify      assignment to mail, for a burst of manual tasks (emulator at AWS_ENDPOINT_URL)
//!   cargo run --release -p tel-bench -- deployed    the deployed stack (tel deploy --local) beside tel dev: latencies, init, memory

mod bill;
mod call_count;
mod deployed;
mod e2e;
mod inprocess;
mod notify;
mod operations;
mod prices;
mod startup;
mod stats;
mod sweep;
mod views;
mod workload;

use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Router + validator + executor + output validation for a small JS task, over in-memory ports.
    Inprocess {
        #[arg(long, default_value_t = 2000)]
        tasks: usize,
    },
    /// Compiled-schema validation of valid and invalid instances.
    Schema {
        #[arg(long, default_value_t = 200_000)]
        iterations: usize,
    },
    /// One sweep's reads with `due` tasks due among growing numbers stored (emulator at AWS_ENDPOINT_URL).
    Sweep {
        #[arg(long, value_delimiter = ',', default_value = "1000,50000")]
        stored: Vec<usize>,
        #[arg(long, default_value_t = 50)]
        due: usize,
    },
    /// Each function binary: start to ready, first invocation, peak RSS, size (emulator at AWS_ENDPOINT_URL).
    Startup {
        /// Where the function binaries are (build them with `cargo build --release`).
        #[arg(long, default_value = "target/release")]
        bin_dir: std::path::PathBuf,
        /// Starts of each function; the medians are printed (this host's speed wanders).
        #[arg(long, default_value_t = 11)]
        runs: usize,
        /// Only these functions (comma-separated); all of them by default.
        #[arg(long, value_delimiter = ',')]
        functions: Vec<String>,
    },
    /// The stack `tel deploy --local` deployed (TEL_DEPLOYED_ENV, else .tel/deployed.env) beside
    /// tel dev's runner on the same LocalStack: one task at a time, cold and warm; init and memory.
    Deployed {
        #[arg(long, default_value_t = 30)]
        tasks: usize,
    },
    /// The inbox views' first pages through the HTTP API with many open tasks for one group.
    Views {
        #[arg(long, default_value_t = 10_000)]
        open: usize,
    },
    /// A bulk retry of `failed` failed tasks among `stored` others (emulator at AWS_ENDPOINT_URL).
    Operations {
        #[arg(long, default_value_t = 2000)]
        failed: usize,
        #[arg(long, default_value_t = 8000)]
        stored: usize,
        /// The operation's pace, tasks per second.
        #[arg(long, default_value_t = 200)]
        rate: u32,
    },
    /// From a manual task's assignment to its mail in the emulator's SES (emulator at AWS_ENDPOINT_URL).
    Notify {
        #[arg(long, default_value_t = 100)]
        tasks: usize,
    },
    /// The pipeline on the emulator at AWS_ENDPOINT_URL, and the emulator's raw SQS and DynamoDB rates.
    E2e {
        #[arg(long, default_value_t = 300)]
        tasks: usize,
        #[arg(long, default_value_t = 4)]
        pollers: usize,
        /// Tasks submitted but not yet completed, at most.
        #[arg(long, default_value_t = 20)]
        in_flight: usize,
        /// The definition publishes only its tasks' outcomes (`"events": "outcomes"`).
        #[arg(long)]
        outcomes_only: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().bench {
        Bench::Inprocess { tasks } => inprocess::run(tasks).await,
        Bench::Schema { iterations } => inprocess::schema(iterations),
        Bench::Sweep { stored, due } => sweep::run(stored, due).await,
        Bench::Startup {
            bin_dir,
            runs,
            functions,
        } => startup::run(bin_dir, runs, functions).await,
        Bench::Deployed { tasks } => deployed::run(tasks).await,
        Bench::Notify { tasks } => notify::run(tasks).await,
        Bench::Views { open } => views::run(open).await,
        Bench::Operations {
            failed,
            stored,
            rate,
        } => operations::run(failed, stored, rate).await,
        Bench::E2e {
            tasks,
            pollers,
            in_flight,
            outcomes_only,
        } => e2e::run(tasks, pollers, in_flight, outcomes_only).await,
    }
}
