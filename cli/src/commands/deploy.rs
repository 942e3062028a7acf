//! `tel deploy --local`: the shipped shape on this machine. Builds the
//! functions for the host, deploys `infra/template.yaml` through LocalStack's
//! CloudFormation (the SAM transform, the real `bootstrap` binaries run by
//! our host-process executor behind the template's own event source
//! mappings, schedule and rules), and writes `.tel/deployed.env`.
//! `tel gateway` then serves the stack's HTTP API on 127.0.0.1 (LocalStack
//! community has no HTTP API): tokens checked as the JWT authorizer would,
//! requests handed to the deployed `api` function as HTTP API events.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use tel_api::auth::AuthConfig;
use tel_engine::bootstrap;
use tel_local::deploy::{Deployment, binaries_dir, deployed};
use tel_local::gateway::{Gateway, serve};
use tel_local::template::TEMPLATE_YAML;

use super::dev::parse_parameter;
use crate::environment;

/// Where `tel deploy --local` writes the variables that reach the stack.
pub const DEPLOYED_ENV: &str = ".tel/deployed.env";

#[derive(Args)]
pub struct DeployArgs {
    /// Deploy to the local emulator (LocalStack, started if AWS_ENDPOINT_URL is
    /// unset). Deploying to AWS is `sam build && sam deploy` (docs/deploy.md).
    #[arg(long, required = true)]
    local: bool,
    /// The stack's name (every resource name starts with it).
    #[arg(long, default_value = "tel-local")]
    stack: String,
    /// Template parameters, `Name=value` (Architecture is the host's).
    #[arg(long = "parameter", value_parser = parse_parameter)]
    parameters: Vec<(String, String)>,
    /// Build and run release binaries (slower to build; what the zips hold).
    #[arg(long)]
    release: bool,
    /// Use the binaries as they are built already.
    #[arg(long)]
    no_build: bool,
    /// Delete the stack instead.
    #[arg(long)]
    delete: bool,
    /// Where to write the variables that reach the stack.
    #[arg(long, default_value = DEPLOYED_ENV)]
    env_file: PathBuf,
    /// Deploy this template instead of the repository's (e.g. a changed copy).
    #[arg(long)]
    template: Option<PathBuf>,
    /// Address `tel gateway` serves the HTTP API on (written to the env file).
    #[arg(long, default_value = "http://127.0.0.1:8788")]
    api_url: String,
}

/// The template's name for this host's architecture.
fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "x86_64",
    }
}

fn build(release: bool) -> Result<()> {
    let mut cargo = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
    // The whole workspace at once: a per-package build would resolve features
    // anew and rebuild the dependency graph.
    cargo.args(["build", "--workspace", "--bins"]);
    if release {
        cargo.arg("--release");
    }
    let status = cargo
        .current_dir(environment::repo_root()?)
        .status()
        .context("running cargo")?;
    anyhow::ensure!(status.success(), "cargo build failed");
    Ok(())
}

pub async fn run(args: DeployArgs) -> Result<()> {
    let root = environment::repo_root()?;
    let sdk = bootstrap::sdk_config().await;
    if args.delete {
        // The table and bucket are retained by a stack's deletion (as on AWS,
        // where they hold the only copy of tasks); locally they go too, so the
        // name can be deployed again.
        let retained = deployed(&sdk, &args.stack).await.ok();
        Deployment::delete(&sdk, &args.stack).await?;
        if let Some(stack) = retained {
            tel_local::deploy::delete_retained(&sdk, &stack).await?;
        }
        eprintln!("deleted {} with its table and bucket", args.stack);
        return Ok(());
    }
    let started = Instant::now();
    if !args.no_build {
        build(args.release)?;
    }
    let built = started.elapsed();
    let mut parameters: std::collections::BTreeMap<String, String> =
        local_parameters().into_iter().collect();
    parameters.extend(args.parameters.iter().cloned());
    let deployment = Deployment {
        stack_name: args.stack.clone(),
        binaries: binaries_dir(&root, args.release),
        code_root: root
            .join(environment::STATE_DIR)
            .join("functions")
            .join(&args.stack),
        template_dir: root.join("infra"),
        parameters,
    };
    let text = match &args.template {
        Some(file) => {
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
        }
        None => TEMPLATE_YAML.to_owned(),
    };
    let (template, binaries) = deployment.local_template(&text)?;
    deployment.prepare_code(&binaries)?;
    let took = deployment.deploy(&sdk, &template).await?;
    let stack = deployed(&sdk, &args.stack).await?;
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let mut vars = vec![(
        "AWS_ENDPOINT_URL".to_owned(),
        std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
    )];
    vars.extend(stack.env_vars());
    vars.extend([
        ("TEL_API_FUNCTION".to_owned(), format!("{}-api", args.stack)),
        ("TEL_API_URL".to_owned(), args.api_url.clone()),
        ("TEL_AUTH_MODE".to_owned(), "hs256".to_owned()),
        ("TEL_JWT_HS256_SECRET".to_owned(), secret),
    ]);
    let env_file = environment::write_env(&args.env_file, "`tel deploy --local`", &vars)?;
    eprintln!(
        "deployed {} ({} functions) in {:.1} s (built in {:.1} s, CloudFormation {:.1} s)",
        args.stack,
        binaries.len(),
        started.elapsed().as_secs_f64(),
        built.as_secs_f64(),
        took.as_secs_f64()
    );
    eprintln!(
        "`source {}`, then `cargo run -p tel -- gateway` serves its HTTP API at {}; submit, watch, task, stats and dlq work against it.",
        env_file.display(),
        args.api_url
    );
    Ok(())
}

/// What a local deploy sets: the host's architecture (the binaries are the
/// host's), and the example state machine and orchestrator queue, so the
/// whole shape runs.
pub fn local_parameters() -> Vec<(String, String)> {
    vec![
        ("Architecture".to_owned(), host_architecture().to_owned()),
        ("ExampleStateMachine".to_owned(), "true".to_owned()),
        ("ExampleOrchestratorQueue".to_owned(), "true".to_owned()),
    ]
}

#[derive(Args)]
pub struct GatewayArgs {
    /// The api function to hand requests to (from `.tel/deployed.env`).
    #[arg(long, env = "TEL_API_FUNCTION")]
    function: String,
    /// Where to serve (from `.tel/deployed.env`).
    #[arg(long, env = "TEL_API_URL", default_value = "http://127.0.0.1:8788")]
    api_url: String,
}

/// `tel gateway`: the deployed stack's HTTP API on 127.0.0.1.
pub async fn gateway(args: GatewayArgs) -> Result<()> {
    let sdk = bootstrap::sdk_config().await;
    let auth = AuthConfig::from_env()?;
    let address = args
        .api_url
        .strip_prefix("http://")
        .context("--api-url must be http://host:port")?
        .trim_end_matches('/');
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {address}"))?;
    eprintln!(
        "the HTTP API of {} at {} (Ctrl-C stops)",
        args.function, args.api_url
    );
    serve(listener, Gateway::new(&sdk, args.function, auth), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
