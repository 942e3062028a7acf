//! `tel submit`: an execution request onto the requests queue, as an orchestrator would send it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};
use tel_core::domain::{ExecutionRequest, TaskInstanceId};
use tel_core::ports::OutgoingMessage;

#[derive(Args)]
pub struct SubmitArgs {
    /// A request file (JSON or YAML); the flags below fill in or override its fields.
    file: Option<PathBuf>,
    /// `name` or `name:version`.
    #[arg(long)]
    definition: Option<String>,
    /// The input as JSON text.
    #[arg(long)]
    input: Option<String>,
    #[arg(long)]
    workflow: Option<String>,
    #[arg(long)]
    step: Option<String>,
    #[arg(long)]
    priority: Option<i64>,
}

pub async fn run(args: SubmitArgs) -> Result<()> {
    let (_, config, engine) = super::engine().await?;
    let body = build(args)?;
    let id = submit(&engine, &config.queues.requests, body).await?;
    println!("{id}");
    Ok(())
}

fn build(args: SubmitArgs) -> Result<Value> {
    let mut body = match &args.file {
        Some(file) => serde_yaml::from_str::<Value>(
            &std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?,
        )?,
        None => json!({}),
    };
    let Some(fields) = body.as_object_mut() else {
        bail!("a request must be an object")
    };
    if let Some(d) = args.definition {
        fields.insert("taskDefinitionId".into(), d.into());
    }
    if let Some(input) = args.input {
        fields.insert(
            "input".into(),
            serde_json::from_str(&input).context("--input must be JSON")?,
        );
    }
    if let Some(p) = args.priority {
        fields.insert("priority".into(), p.into());
    }
    let workflow = args
        .workflow
        .unwrap_or_else(|| format!("cli-{}", uuid::Uuid::new_v4().simple()));
    fields
        .entry("workflowInstanceId")
        .or_insert(workflow.into());
    fields
        .entry("stepId")
        .or_insert(args.step.unwrap_or_else(|| "step-1".into()).into());
    fields.entry("input").or_insert(json!({}));
    Ok(body)
}

/// Sends one request and returns its task id (assigning one if it had none).
pub async fn submit(
    engine: &tel_engine::TaskEngine,
    requests_queue: &str,
    mut body: Value,
) -> Result<TaskInstanceId> {
    let id = match body.get("taskInstanceId").and_then(Value::as_str) {
        Some(id) => TaskInstanceId::parse(id).map_err(anyhow::Error::msg)?,
        None => {
            let id = TaskInstanceId::new();
            body["taskInstanceId"] = id.to_string().into();
            id
        }
    };
    // Catch mistakes here rather than in the dead-letter queue.
    ExecutionRequest::parse(body.clone()).map_err(|r| anyhow::anyhow!(r.error.message))?;
    engine
        .queues()
        .send(
            requests_queue,
            vec![OutgoingMessage {
                trace: None,
                body: body.to_string(),
                delay_seconds: 0,
            }],
        )
        .await?;
    Ok(id)
}
