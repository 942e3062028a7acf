//! `tel dev` and `tel provision`: the whole stack on this machine.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::Value;
use tel_api::ApiState;
use tel_api::admin::OperatorQueues;
use tel_api::auth::{AuthConfig, mint_dev_token};
use tel_core::domain::TaskType;
use tel_engine::bootstrap;
use tel_engine::config::Settings;
use tel_engine::metrics::{AppendFile, Metrics};
use tel_engine::{EngineBuilder, TaskEngine};
use tel_local::{
    LocalRunner, LocalStack, NoticePrinter, RunnerOptions, Template, provision as provision_stack,
};

use super::events::{open_tap, print};
use crate::environment;

#[derive(Args, Clone)]
pub struct ProvisionArgs {
    /// Prefix of every resource name.
    #[arg(long, default_value = "tel-dev")]
    stack: String,
    /// Template parameter overrides, `Name=value`.
    #[arg(long = "parameter", value_parser = parse_parameter)]
    parameters: Vec<(String, String)>,
}

#[derive(Args)]
pub struct DevArgs {
    #[command(flatten)]
    provision: ProvisionArgs,
    /// The emulator to start when AWS_ENDPOINT_URL is unset (installed on first use).
    #[arg(long, value_enum, default_value_t = environment::Engine::Moto, env = "TEL_ENGINE")]
    pub engine: environment::Engine,
    /// Concurrent pollers per function.
    #[arg(long, default_value_t = 2)]
    pollers: usize,
    /// Seconds between sweeps.
    #[arg(long, default_value_t = 2.0)]
    sweep_every: f64,
    /// Register examples/definitions, submit examples/requests, and show each outcome.
    #[arg(long)]
    demo: bool,
    /// With --demo: stop once every demo task has finished.
    #[arg(long)]
    exit_after_demo: bool,
    /// Port of the local HTTP API on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8787, env = "TEL_API_PORT")]
    api_port: u16,
    /// Where to write the variables that reach this stack.
    #[arg(long, default_value = environment::DEV_ENV)]
    env_file: PathBuf,
    /// Where the functions' EMF metric lines go (in Lambda: stdout, to CloudWatch).
    #[arg(long, default_value = environment::DEV_METRICS)]
    metrics_file: PathBuf,
}

pub(super) fn parse_parameter(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected Name=value, got {text:?}"))
}

async fn create(args: &ProvisionArgs) -> Result<(aws_config::SdkConfig, LocalStack)> {
    let sdk = bootstrap::sdk_config().await;
    // Local queues redeliver after 30 s rather than the template's production 180 s.
    let mut overrides = BTreeMap::from([("VisibilityTimeoutSeconds".to_owned(), "30".to_owned())]);
    overrides.extend(args.parameters.iter().cloned());
    let stack = provision_stack(&sdk, &Template::embedded(), &args.stack, &overrides).await?;
    Ok((sdk, stack))
}

fn env_vars(stack: &LocalStack) -> Vec<(String, String)> {
    let mut vars = vec![(
        "AWS_ENDPOINT_URL".to_owned(),
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
    )];
    vars.extend(stack.env_vars());
    vars
}

pub async fn provision(args: ProvisionArgs) -> Result<()> {
    let (_, stack) = create(&args).await?;
    for (key, value) in env_vars(&stack) {
        println!("export {key}='{value}'");
    }
    Ok(())
}

fn metrics_file(file: &Path) -> Result<AppendFile> {
    let path = environment::repo_root()?.join(file);
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    AppendFile::open(&path).with_context(|| format!("opening {}", path.display()))
}

/// Who `tel dev`'s notification mail comes from, unless a `--parameter
/// NotificationSender=…` says otherwise (verified in the emulator's SES).
const DEV_SENDER: &str = "tel-dev@example.com";

pub async fn run(args: DevArgs) -> Result<()> {
    let mut provision = args.provision.clone();
    if !provision
        .parameters
        .iter()
        .any(|(name, _)| name == "NotificationSender")
    {
        provision
            .parameters
            .push(("NotificationSender".into(), DEV_SENDER.into()));
    }
    let (sdk, stack) = create(&provision).await?;
    if let Some(sender) = stack
        .parameters
        .get("NotificationSender")
        .filter(|s| !s.is_empty())
    {
        tel_local::mail::verify_sender(&sdk, sender).await?;
    }
    let mut config = stack.config()?;
    let max_receive_count = config.settings.max_receive_count;
    config.settings = Settings {
        max_receive_count,
        ..Settings::from_env()?
    };
    let engine = EngineBuilder::aws(&sdk, &config)
        .metrics(Metrics::new(metrics_file(&args.metrics_file)?))
        .build();
    let engine = Arc::new(engine);
    let runners = tel_runners::standard(&sdk, &engine);
    let checkpoint = environment::repo_root()?
        .join(environment::STATE_DIR)
        .join(format!("{}.stream.json", stack.stack_name));
    // The API's address first: notifications link to its /ui/.
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.api_port))
        .await
        .context("binding the local API port (choose another with --api-port)")?;
    let api_url = format!("http://{}", listener.local_addr()?);
    let options = RunnerOptions {
        pollers_per_function: args.pollers,
        sweep_every: Duration::from_secs_f64(args.sweep_every.max(0.1)),
        stream_checkpoint: Some(checkpoint),
        ui_url: Some(format!("{api_url}/ui/")),
        on_notice: Some(NoticePrinter(Arc::new(super::events::print_notice))),
        ..RunnerOptions::default()
    };
    let tap = open_tap(&sdk, &stack.event_bus_name).await?;
    let mut runner = LocalRunner::start(&sdk, &stack, engine.clone(), runners, &options)?;
    // The local API verifies tokens itself, with a key made for this run (`tel token` mints with it).
    let queues =
        OperatorQueues::from_vars(tel_aws::clients::dead_letter_queues(&sdk), stack.env_vars());
    runner.serve_api(
        listener,
        ApiState::new(engine.clone(), AuthConfig::hs256(&secret)).with_queues(queues),
    );
    let ui_link = ui_link(&api_url, &secret)?;
    let mut vars = env_vars(&stack);
    vars.extend([
        ("TEL_API_URL".to_owned(), api_url.clone()),
        ("TEL_AUTH_MODE".to_owned(), "hs256".to_owned()),
        ("TEL_JWT_HS256_SECRET".to_owned(), secret),
    ]);
    let env_file = environment::write_dev_env(&args.env_file, &vars)?;
    eprintln!(
        "tel is running on {} (stack {}), API at {api_url}.",
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
        stack.stack_name
    );
    eprintln!(
        "In another shell: `source {}`, then `cargo run -p tel -- submit|task|watch|token|stats`. Ctrl-C stops.",
        env_file.display()
    );
    eprintln!(
        "Metrics (CloudWatch EMF lines) go to {}.",
        args.metrics_file.display()
    );
    eprintln!(
        "The inbox and console, signed in as {DEV_UI_USER} (groups {}): {ui_link}",
        DEV_UI_GROUPS.join(", ")
    );

    let mut waiting: HashSet<String> = HashSet::new();
    if args.demo {
        waiting = demo(&engine, &config.queues.requests).await?;
    }
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            events = tap.receive(20) => {
                for event in events? {
                    print(&event);
                    let terminal = matches!(event["detail-type"].as_str(), Some("task.completed" | "task.failed" | "task.cancelled"));
                    if terminal && let Some(id) = event["detail"]["taskInstanceId"].as_str() {
                        waiting.remove(id);
                    }
                }
                if args.demo && args.exit_after_demo && waiting.is_empty() {
                    eprintln!("every demo task has finished");
                    break;
                }
            }
        }
    }
    tap.close().await;
    runner.stop().await;
    Ok(())
}

/// Who the printed UI link signs in as: in the examples' approver group, and an admin.
const DEV_UI_USER: &str = "dev-user";
const DEV_UI_GROUPS: [&str; 2] = ["finance", "tel-admins"];
/// The link's token lasts a working day; `tel token` mints others.
const DEV_UI_TOKEN_SECONDS: i64 = 12 * 3600;

/// The UI's address with a development token in its fragment, which the
/// browser never sends to a server: the page takes it into memory and drops
/// it from the address bar.
fn ui_link(api_url: &str, secret: &str) -> Result<String> {
    let groups: Vec<String> = DEV_UI_GROUPS.iter().map(|g| (*g).to_owned()).collect();
    let token = mint_dev_token(secret, DEV_UI_USER, &groups, DEV_UI_TOKEN_SECONDS)?;
    Ok(format!("{api_url}/ui/#token={token}"))
}

/// Registers the example definitions and submits the example requests;
/// returns the ids of the tasks that end by themselves (a manual task waits
/// for a person in the inbox, so the demo does not wait for it).
async fn demo(engine: &TaskEngine, requests_queue: &str) -> Result<HashSet<String>> {
    let root = environment::repo_root()?;
    // The UI's user in the directory, so the expense approval's notice is mailed.
    let person = tel_core::ports::DirectoryEntry {
        id: DEV_UI_USER.into(),
        email: format!("{DEV_UI_USER}@example.com"),
        groups: DEV_UI_GROUPS.iter().map(|g| (*g).to_owned()).collect(),
    };
    engine.people().register(&person).await?;
    eprintln!(
        "registered {} <{}> in the directory (groups {})",
        person.id,
        person.email,
        person.groups.join(", ")
    );
    let mut manual = HashSet::new();
    for file in files_in(root.join("examples/definitions"))? {
        let definition =
            super::definitions::register_file(engine.definitions().store().as_ref(), &file).await?;
        eprintln!("registered {}", definition.reference());
        if definition.task_type == TaskType::Manual {
            manual.insert(definition.name.to_string());
        }
    }
    let mut ids = HashSet::new();
    for file in files_in(root.join("examples/requests"))? {
        let body: Value = serde_yaml::from_str(&std::fs::read_to_string(&file)?)
            .with_context(|| format!("{}", file.display()))?;
        let waits_for_a_person = body["taskDefinitionId"]
            .as_str()
            .is_some_and(|name| manual.contains(name));
        let id = super::submit::submit(engine, requests_queue, body).await?;
        eprintln!(
            "submitted {} as {id}{}",
            file.file_name().unwrap_or_default().to_string_lossy(),
            if waits_for_a_person {
                " (a manual task: work it in the inbox)"
            } else {
                ""
            }
        );
        if !waits_for_a_person {
            ids.insert(id.to_string());
        }
    }
    Ok(ids)
}

fn files_in(dir: PathBuf) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("json" | "yaml" | "yml")
            )
        })
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_link_signs_in_as_the_development_admin() {
        let link = ui_link("http://127.0.0.1:8787", "a-run-key").unwrap();
        let token = link
            .strip_prefix("http://127.0.0.1:8787/ui/#token=")
            .expect("the UI's address, the token in its fragment");
        let request = axum::http::Request::builder()
            .header("Authorization", format!("Bearer {token}"))
            .body(())
            .unwrap();
        let caller = AuthConfig::hs256("a-run-key")
            .caller(&request.into_parts().0)
            .unwrap();
        assert_eq!(caller.user, DEV_UI_USER);
        assert!(caller.admin && caller.groups.contains(&"finance".to_owned()));
        // Only the key of this run verifies it.
        let other = axum::http::Request::builder()
            .header("Authorization", format!("Bearer {token}"))
            .body(())
            .unwrap();
        assert!(
            AuthConfig::hs256("another-run")
                .caller(&other.into_parts().0)
                .is_err()
        );
    }
}
