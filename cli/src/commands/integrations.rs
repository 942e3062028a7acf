//! `tel integrations register|show`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use tel_core::domain::DefinitionRef;
use tel_core::integrations::Integration;

#[derive(Subcommand)]
pub enum IntegrationsCommand {
    /// Register integrations from JSON or YAML files (a new version each, unless unchanged).
    Register { files: Vec<PathBuf> },
    /// Show an integration: `name` for the latest version, `name:version` for one.
    Show { reference: String },
}

pub async fn run(command: IntegrationsCommand) -> Result<()> {
    let (_, _, engine) = super::engine().await?;
    match command {
        IntegrationsCommand::Register { files } => {
            for file in files {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let value: serde_json::Value = serde_yaml::from_str(&text)
                    .with_context(|| format!("{} is not JSON or YAML", file.display()))?;
                let integration = Integration::parse(value)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                let registered = engine.integrations().register(integration).await?;
                println!(
                    "{}  registered from {}",
                    registered.reference(),
                    file.display()
                );
            }
        }
        IntegrationsCommand::Show { reference } => {
            let reference = DefinitionRef::parse(&reference).map_err(anyhow::Error::msg)?;
            let found = engine
                .integrations()
                .get(&reference)
                .await?
                .with_context(|| format!("no integration {reference}"))?;
            println!("{}", serde_json::to_string_pretty(&found)?);
        }
    }
    Ok(())
}
