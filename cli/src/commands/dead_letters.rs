//! `tel dlq list|redrive`: what is in the dead-letter queues, and putting it back.

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use tel_core::ports::DeadLetterQueues;
use tel_engine::admin::dead_letter_queue;

#[derive(Clone, Copy, ValueEnum)]
pub enum Queue {
    Requests,
    Validate,
    Execute,
    Manual,
    /// Assignment events whose notices could not be sent.
    Notification,
}

impl Queue {
    const ALL: [Queue; 5] = [
        Queue::Requests,
        Queue::Validate,
        Queue::Execute,
        Queue::Manual,
        Queue::Notification,
    ];

    fn prefix(self) -> &'static str {
        match self {
            Queue::Requests => "REQUESTS",
            Queue::Validate => "VALIDATE",
            Queue::Execute => "EXECUTE",
            Queue::Manual => "MANUAL",
            Queue::Notification => "NOTIFICATION",
        }
    }

    /// (source queue URL, its dead-letter queue URL), from the environment.
    fn urls(self) -> Result<(String, String)> {
        let var = |name: String| {
            std::env::var(&name).with_context(|| {
                format!("{name} is not set; source .tel/dev.env or set it from the stack outputs")
            })
        };
        Ok((
            var(format!("TEL_{}_QUEUE_URL", self.prefix()))?,
            var(format!("TEL_{}_DEAD_LETTER_QUEUE_URL", self.prefix()))?,
        ))
    }
}

#[derive(Subcommand)]
pub enum DeadLetterCommand {
    /// List dead letters with the reason each was given up on (all queues unless --queue).
    List {
        #[arg(long, value_enum)]
        queue: Option<Queue>,
        #[arg(long, default_value_t = 100)]
        max: usize,
        /// One JSON document instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Move dead letters back to the queue they came from.
    Redrive {
        #[arg(long, value_enum)]
        queue: Queue,
        #[arg(long, default_value_t = 1000)]
        max: usize,
        /// Only the messages naming a task of this definition (a request's
        /// taskDefinitionId, a stage message's task); the rest stay.
        #[arg(long)]
        definition: Option<String>,
    },
}

pub async fn run(command: DeadLetterCommand) -> Result<()> {
    let (sdk, _, engine) = super::engine().await?;
    let dead_letter_queues = tel_aws::clients::dead_letter_queues(&sdk);
    match command {
        DeadLetterCommand::List { queue, max, json } => {
            let queues = queue
                .map(|q| vec![q])
                .unwrap_or_else(|| Queue::ALL.to_vec());
            let mut all = serde_json::Map::new();
            for q in queues {
                let (source, dead) = q.urls()?;
                let letters = dead_letter_queue::list(
                    dead_letter_queues.as_ref(),
                    engine.dead_letters().as_ref(),
                    &dead,
                    &source,
                    max,
                )
                .await?;
                if !json {
                    println!(
                        "{} dead-letter queue: {} message(s)",
                        q.prefix().to_lowercase(),
                        letters.len()
                    );
                    for l in &letters {
                        let reason = l
                            .note
                            .as_ref()
                            .map_or("(no reason recorded)", |n| n.reason.as_str());
                        let task = l
                            .note
                            .as_ref()
                            .and_then(|n| n.task_instance_id)
                            .map(|t| t.to_string())
                            .unwrap_or_else(|| "-".into());
                        let body: String = l.body.chars().take(120).collect();
                        println!(
                            "  {}  task {task}  {}\n    reason: {reason}\n    body: {body}",
                            l.message_id,
                            l.sent_at.as_deref().unwrap_or("?")
                        );
                    }
                }
                all.insert(q.prefix().to_lowercase(), serde_json::to_value(letters)?);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            }
        }
        DeadLetterCommand::Redrive {
            queue,
            max,
            definition,
        } => {
            let (source, dead) = queue.urls()?;
            let only = match &definition {
                Some(definition) => Some(
                    dead_letter_queue::naming_definition(
                        dead_letter_queues.as_ref(),
                        engine.tasks().as_ref(),
                        &dead,
                        definition,
                        max,
                    )
                    .await?,
                ),
                None => None,
            };
            let waiting = engine.queues().depth(&dead).await?.waiting;
            let total = only
                .as_ref()
                .map_or(waiting.min(max as u64), |ids| ids.len() as u64);
            let mut show = |moved: usize| eprint!("\rredriving: {moved} of ~{total} moved");
            let result = match &only {
                Some(ids) => {
                    dead_letter_queues
                        .redrive_only(&dead, &source, ids, &mut show)
                        .await
                }
                None => {
                    dead_letter_queues
                        .redrive(&dead, &source, max, &mut show)
                        .await
                }
            };
            eprintln!();
            let moved = result?;
            println!(
                "moved {moved} message(s) back to the {} queue",
                queue.prefix().to_lowercase()
            );
        }
    }
    Ok(())
}
