//! `tel task ID`: a task's record and history.

use anyhow::{Context, Result};
use clap::Args;
use tel_core::domain::TaskInstanceId;

#[derive(Args)]
pub struct TaskArgs {
    id: String,
    /// Print the record and history as one JSON document.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: TaskArgs) -> Result<()> {
    let (_, _, engine) = super::engine().await?;
    let id = TaskInstanceId::parse(&args.id).map_err(anyhow::Error::msg)?;
    let task = engine
        .tasks()
        .get(id)
        .await?
        .with_context(|| format!("no task {id}"))?;
    let history = &task.history;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "task": task, "history": history }))?
        );
        return Ok(());
    }
    println!("{}", serde_json::to_string_pretty(&task)?);
    println!("\nhistory:");
    for entry in history {
        let from = entry
            .from
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        let took = entry
            .duration_ms
            .map(|d| format!(" ({d} ms, {})", entry.outcome.as_deref().unwrap_or("")))
            .unwrap_or_default();
        let details = if entry.details.is_null() {
            String::new()
        } else {
            format!("  {}", entry.details)
        };
        println!(
            "  v{:<3} {}  {:<15} {:>14} -> {:<14} attempt {}{took}{details}",
            entry.version,
            entry.at.format("%H:%M:%S%.3f"),
            entry.action,
            from,
            entry.to,
            entry.attempt
        );
    }
    Ok(())
}
