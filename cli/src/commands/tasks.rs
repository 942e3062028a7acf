//! `tel task ID`: a task's record and history, its trace id, and its
//! timeline drawn to scale.

use anyhow::{Context, Result};
use clap::Args;
use tel_core::domain::TaskInstanceId;
use tel_core::domain::timeline::{Span, timeline};

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
    println!(
        "\ntrace: {}",
        task.trace_id
            .as_deref()
            .unwrap_or("(none: the request came without one)")
    );
    print_timeline(&timeline(history, engine.now()));
    Ok(())
}

/// Columns of the longest bar.
const BAR: usize = 48;

/// Each span as a bar to scale: where it starts and how long it took.
fn print_timeline(spans: &[Span]) {
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return;
    };
    let whole = (last.to - first.from).num_milliseconds().max(1) as f64;
    let column = |at: chrono::DateTime<chrono::Utc>| {
        (((at - first.from).num_milliseconds() as f64 / whole) * BAR as f64).round() as usize
    };
    println!("timeline ({} ms):", whole as i64);
    for span in spans {
        let (from, to) = (
            column(span.from),
            column(span.to).max(column(span.from) + 1),
        );
        let kind = format!("{:?}", span.kind).to_lowercase();
        let attempt = match span.attempt {
            0 => String::new(),
            n => format!(" #{n}"),
        };
        println!(
            "  {:<14} {}{}{} {} ms{}",
            format!("{kind}{attempt}"),
            " ".repeat(from),
            "█".repeat(to - from),
            " ".repeat(BAR + 1 - to.min(BAR + 1)),
            span.millis(),
            if span.open { " (so far)" } else { "" }
        );
    }
}
