//! `tel stats`: what a local stack is doing, from the emulator itself.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use tel_engine::admin::stats::{named_queues, read_tasks, summarize};

#[derive(Args)]
pub struct StatsArgs {
    /// Refresh every this many seconds until Ctrl-C.
    #[arg(long)]
    watch: Option<f64>,
    /// Window for execution times, in minutes.
    #[arg(long, default_value_t = 15)]
    window: i64,
    #[arg(long)]
    json: bool,
}

pub async fn run(args: StatsArgs) -> Result<()> {
    let (_, config, engine) = super::engine().await?;
    let queues = named_queues(std::env::vars());
    loop {
        let contents = read_tasks(engine.tasks().as_ref(), None).await?;
        let mut stats = summarize(
            &contents,
            chrono::Utc::now(),
            chrono::Duration::minutes(args.window),
        );
        stats
            .add_queue_depths(engine.queues().as_ref(), &queues)
            .await?;
        if args.json {
            println!("{}", serde_json::to_string(&stats)?);
        } else {
            if args.watch.is_some() {
                print!("\x1b[2J\x1b[H");
            }
            println!(
                "{} at {}\n{stats}",
                config.table_name,
                chrono::Local::now().format("%H:%M:%S")
            );
        }
        let Some(every) = args.watch else {
            return Ok(());
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs_f64(every.max(0.5))) => {}
        }
    }
}
