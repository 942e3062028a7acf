//! The subcommands.

mod contract;
mod dead_letters;
mod definitions;
mod deploy;
mod dev;
mod events;
mod integrations;
mod operations;
mod stats;
mod submit;
mod tasks;
mod token;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::environment;

#[derive(Parser)]
#[command(
    name = "tel",
    version,
    about = "Task Execution Layer: local stack and CLI"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole stack locally: emulator (if AWS_ENDPOINT_URL is unset), resources, every function.
    Dev(dev::DevArgs),
    /// Deploy infra/template.yaml to LocalStack (--local): the real functions behind the template's own event sources.
    Deploy(deploy::DeployArgs),
    /// Serve the HTTP API of the stack `tel deploy --local` deployed (LocalStack has no HTTP API).
    Gateway(deploy::GatewayArgs),
    /// Create the template's resources under a stack name and print the variables to reach them.
    Provision(dev::ProvisionArgs),
    /// Register and show task definitions.
    #[command(subcommand)]
    Definitions(definitions::DefinitionsCommand),
    /// Register and show integrations (external services for integration tasks).
    #[command(subcommand)]
    Integrations(integrations::IntegrationsCommand),
    /// Submit an execution request to the requests queue.
    Submit(submit::SubmitArgs),
    /// Show a task with its history.
    Task(tasks::TaskArgs),
    /// Bulk actions by filter: retry or cancel every matching task as one tracked operation.
    #[command(subcommand)]
    Tasks(operations::TasksCommand),
    /// Print lifecycle events as they arrive on the bus.
    Watch,
    /// Queue depths, tasks by status, throughput and attempt times of the local stack.
    Stats(stats::StatsArgs),
    /// Dead-letter queues: list what is there and why; redrive.
    #[command(subcommand)]
    Dlq(dead_letters::DeadLetterCommand),
    /// Mint a development token for the local API (HS256 key from .tel/dev.env).
    Token(token::TokenArgs),
    /// Print the contract: the AsyncAPI document (events, requests, callbacks) or the OpenAPI one.
    Contract(contract::ContractArgs),
}

impl Cli {
    /// Completes the environment (from `.tel/dev.env`, or by starting the
    /// emulator for `tel dev`). Returns the emulator it started, if any: that
    /// one stops when `tel dev` does; one already running keeps running.
    pub fn prepare_environment(&self) -> Result<Option<environment::Engine>> {
        let mut started = None;
        match &self.command {
            Command::Dev(args) => {
                if std::env::var_os("AWS_ENDPOINT_URL").is_none()
                    && environment::start_emulator(args.engine)?
                {
                    started = Some(args.engine);
                }
            }
            // A deployed stack lives on in LocalStack: it is started, not stopped.
            Command::Deploy(_) => {
                if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
                    environment::start_emulator(environment::Engine::Localstack)?;
                }
            }
            Command::Gateway(_) => environment::load_env(deploy::DEPLOYED_ENV),
            _ => environment::load_dev_env(),
        }
        if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
            environment::default_local_credentials();
        }
        if std::env::var_os("RUST_LOG").is_none() {
            // Events are the interesting output; handler logs on demand with RUST_LOG=info.
            // SAFETY: no other thread exists yet.
            unsafe { std::env::set_var("RUST_LOG", "warn") };
        }
        Ok(started)
    }

    pub async fn run(self) -> Result<()> {
        tel_engine::lambda::init_tracing();
        match self.command {
            Command::Dev(args) => dev::run(args).await,
            Command::Provision(args) => dev::provision(args).await,
            Command::Deploy(args) => deploy::run(args).await,
            Command::Gateway(args) => deploy::gateway(args).await,
            Command::Definitions(command) => definitions::run(command).await,
            Command::Integrations(command) => integrations::run(command).await,
            Command::Submit(args) => submit::run(args).await,
            Command::Task(args) => tasks::run(args).await,
            Command::Tasks(command) => operations::run(command).await,
            Command::Watch => events::watch_forever().await,
            Command::Token(args) => token::run(args),
            Command::Contract(args) => contract::run(args),
            Command::Dlq(command) => dead_letters::run(command).await,
            Command::Stats(args) => stats::run(args).await,
        }
    }
}

/// The engine for the stack the environment names.
pub async fn engine() -> Result<(
    aws_config::SdkConfig,
    tel_engine::config::Config,
    tel_engine::TaskEngine,
)> {
    let config = tel_engine::config::Config::from_env()
        .map_err(|e| anyhow::anyhow!("{e}; run `tel dev` first or source .tel/dev.env"))?;
    let sdk = tel_engine::bootstrap::sdk_config().await;
    let engine = tel_engine::bootstrap::engine(&sdk, &config);
    Ok((sdk, config, engine))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine_of(args: &[&str]) -> environment::Engine {
        match Cli::try_parse_from(args).unwrap().command {
            Command::Dev(dev) => dev.engine,
            _ => panic!("not tel dev"),
        }
    }

    #[test]
    fn tel_dev_picks_its_engine_by_flag_and_defaults_to_moto() {
        use environment::Engine;
        // (TEL_ENGINE, when set, picks instead: `TEL_ENGINE=localstack scripts/test`.)
        if std::env::var_os("TEL_ENGINE").is_none() {
            assert_eq!(engine_of(&["tel", "dev"]), Engine::Moto);
        }
        assert_eq!(engine_of(&["tel", "dev", "--engine", "moto"]), Engine::Moto);
        assert_eq!(
            engine_of(&["tel", "dev", "--engine", "localstack"]),
            Engine::Localstack
        );
        assert!(Cli::try_parse_from(["tel", "dev", "--engine", "docker"]).is_err());
    }

    #[test]
    fn tel_tasks_retry_takes_the_issues_filter() {
        let cli = Cli::try_parse_from([
            "tel",
            "tasks",
            "retry",
            "--definition",
            "charge",
            "--status",
            "FAILED",
            "--error",
            "INTEGRATION_ERROR",
            "--since",
            "1h",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Tasks(operations::TasksCommand::Retry(_))
        ));
        assert!(
            Cli::try_parse_from(["tel", "tasks", "retry"]).is_err(),
            "a definition is required"
        );
    }
}
