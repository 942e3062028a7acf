//! `tel stats`: what a local stack is doing, from the emulator itself.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use tel_shared::adapters::DynamoTaskStore;
use tel_shared::admin::stats::summarize;

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
    let (sdk, config, engine) = super::engine().await?;
    let store = DynamoTaskStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name);
    let mut queues: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("TEL_") && k.ends_with("_QUEUE_URL"))
        .map(|(k, v)| {
            (
                k.trim_start_matches("TEL_")
                    .trim_end_matches("_QUEUE_URL")
                    .to_lowercase()
                    .replace('_', "-"),
                v,
            )
        })
        .collect();
    queues.sort();
    loop {
        let contents = store.scan_tasks().await?;
        let mut stats = summarize(
            &contents,
            chrono::Utc::now(),
            chrono::Duration::minutes(args.window),
        );
        for (name, url) in &queues {
            let depth = engine.queues().depth(url).await?;
            stats
                .queues
                .insert(name.clone(), (depth.waiting, depth.in_flight));
        }
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
