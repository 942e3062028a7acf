//! `tel tasks retry|cancel|operations|stop`: bulk actions by filter, as
//! tracked operations (`tel_engine::operations`). The command counts what
//! matches, asks, starts the operation and follows its progress; the
//! stack's sweeper runs it (or this process, with `--here`).

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use tel_core::domain::operation::{BulkAction, Operation, Selection};
use tel_core::domain::{Identity, TaskStatus};
use tel_core::ports::PageRequest;
use tel_engine::TaskEngine;
use tel_engine::operations::{BulkRequest, OperationRunner};

#[derive(Subcommand)]
pub enum TasksCommand {
    /// Run again every FAILED or TIMED_OUT task a filter matches.
    Retry(Filter),
    /// Cancel every task waiting on a long retry or a person that a filter matches.
    Cancel {
        #[command(flatten)]
        filter: Filter,
        /// What each cancelled task records as the reason.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Bulk operations, newest first, or one with its outcome per task.
    Operations {
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Stop a running operation.
    Stop { id: String },
}

#[derive(Args)]
pub struct Filter {
    #[arg(long)]
    definition: String,
    /// Only tasks of this definition version.
    #[arg(long)]
    version: Option<u32>,
    /// Statuses (repeat or comma-separate); default: all the action applies to.
    #[arg(long, value_delimiter = ',')]
    status: Vec<String>,
    /// Only tasks whose error has this code.
    #[arg(long)]
    error: Option<String>,
    /// Tasks that ended (open ones: were created) this long ago or since:
    /// `90s`, `30m`, `1h`, `2d`, or an RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// … and until then (same forms; default now).
    #[arg(long)]
    until: Option<String>,
    /// Tasks acted on per second at most.
    #[arg(long)]
    rate: Option<u32>,
    /// Do not ask before starting.
    #[arg(long, short)]
    yes: bool,
    /// Run the operation in this process too (the stack's sweeper runs it
    /// anyway; one runner at a time holds it).
    #[arg(long)]
    here: bool,
    /// Start it and return without following its progress.
    #[arg(long)]
    no_wait: bool,
}

/// A time given as an age (`1h`) or as RFC 3339.
fn time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number
        .parse()
        .with_context(|| format!("{text:?} is neither an age (90s, 30m, 1h, 2d) nor RFC 3339"))?;
    let age = match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => bail!("{text:?}: the unit is s, m, h or d"),
    };
    Ok(now - age)
}

impl Filter {
    fn selection(&self, now: DateTime<Utc>) -> Result<Selection> {
        Ok(Selection {
            definition: self.definition.clone(),
            version: self.version,
            statuses: self
                .status
                .iter()
                .map(|s| {
                    TaskStatus::parse(&s.to_uppercase())
                        .with_context(|| format!("unknown status {s:?}"))
                })
                .collect::<Result<_>>()?,
            error_code: self.error.clone(),
            since: self.since.as_deref().map(|s| time(s, now)).transpose()?,
            until: match &self.until {
                Some(until) => time(until, now)?,
                None => DateTime::<Utc>::MAX_UTC,
            },
        })
    }
}

/// Whoever holds the AWS credentials the CLI uses already holds the table:
/// they act as an admin, named by their login.
fn operator() -> Identity {
    Identity {
        user: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "operator".into())
        ),
        groups: Vec::new(),
        admin: true,
    }
}

pub async fn run(command: TasksCommand) -> Result<()> {
    let (_, _, engine) = super::engine().await?;
    let engine = Arc::new(engine);
    match command {
        TasksCommand::Retry(filter) => start(&engine, BulkAction::Retry, filter, None).await,
        TasksCommand::Cancel { filter, reason } => {
            start(&engine, BulkAction::Cancel, filter, reason).await
        }
        TasksCommand::Operations { id: None, json } => {
            let page = engine
                .operations()
                .operations(PageRequest::default())
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&page.items)?);
            }
            for operation in page.items.iter().filter(|_| !json) {
                println!("{}", line(operation));
            }
            Ok(())
        }
        TasksCommand::Operations { id: Some(id), json } => show(&engine, &id, json).await,
        TasksCommand::Stop { id } => {
            let stopped = engine.stop_operation(&id, &operator().user).await?;
            println!("{}", line(&stopped));
            Ok(())
        }
    }
}

async fn start(
    engine: &Arc<TaskEngine>,
    action: BulkAction,
    filter: Filter,
    reason: Option<String>,
) -> Result<()> {
    let who = operator();
    let selection = filter.selection(engine.now())?;
    let matching = engine
        .count_matching(action, selection.clone(), &who)
        .await?;
    let count = if matching.capped {
        format!("more than {}", matching.count)
    } else {
        matching.count.to_string()
    };
    println!("{count} task(s) of {} match", filter.definition);
    if matching.count == 0 {
        return Ok(());
    }
    if !filter.yes {
        print!("{} them? [y/N] ", action.as_str());
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !answer.trim().eq_ignore_ascii_case("y") {
            println!("nothing started");
            return Ok(());
        }
    }
    let operation = engine
        .start_operation(
            BulkRequest {
                action,
                selection,
                reason,
                rate_per_second: filter.rate,
            },
            &who,
        )
        .await?;
    println!("operation {} started", operation.operation_id);
    if filter.no_wait {
        return Ok(());
    }
    let here = filter.here.then(|| {
        let runner = OperationRunner::new(engine.clone());
        tokio::spawn(async move {
            loop {
                runner.run_due(Duration::from_secs(30)).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    });
    let id = operation.operation_id;
    let ended = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = engine
            .operations()
            .operation(&id)
            .await?
            .context("the operation is gone")?;
        eprint!("\r{}", progress(&now));
        if !now.is_running() {
            break now;
        }
    };
    eprintln!();
    if let Some(here) = here {
        here.abort();
    }
    println!("{}", line(&ended));
    Ok(())
}

async fn show(engine: &TaskEngine, id: &str, json: bool) -> Result<()> {
    let operation = engine
        .operations()
        .operation(id)
        .await?
        .with_context(|| format!("no operation {id}"))?;
    let mut outcomes = Vec::new();
    let mut page = PageRequest {
        limit: Some(500),
        cursor: None,
    };
    loop {
        let got = engine.operations().outcomes(id, page.clone()).await?;
        outcomes.extend(got.items);
        match got.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "operation": operation, "tasks": outcomes })
            )?
        );
        return Ok(());
    }
    println!("{}", line(&operation));
    println!(
        "selection: {}",
        serde_json::to_string(&operation.selection)?
    );
    for outcome in outcomes {
        println!(
            "  {}  {:<9} {}",
            outcome.task_instance_id,
            format!("{:?}", outcome.outcome).to_lowercase(),
            outcome.detail.unwrap_or_default()
        );
    }
    Ok(())
}

fn progress(operation: &Operation) -> String {
    let p = operation.progress;
    format!(
        "{:?}: {} selected, {} acted on, {} skipped, {} failed",
        operation.state, p.selected, p.acted, p.skipped, p.failed
    )
}

fn line(operation: &Operation) -> String {
    format!(
        "{}  {:<6} {:<24} by {:<16} {}",
        operation.operation_id,
        operation.action.as_str(),
        operation.selection.definition,
        operation.started_by.user,
        progress(operation)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_ages_or_rfc_3339() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(time("1h", now).unwrap(), now - chrono::Duration::hours(1));
        assert_eq!(
            time("90s", now).unwrap(),
            now - chrono::Duration::seconds(90)
        );
        assert_eq!(
            time("2026-12-01T00:00:00Z", now).unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        assert!(time("1w", now).is_err());
        assert!(time("soon", now).is_err());
    }
}
