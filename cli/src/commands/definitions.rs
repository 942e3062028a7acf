//! `tel definitions register|show`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use tel_core::domain::{DefinitionRef, TaskDefinition};

#[derive(Subcommand)]
pub enum DefinitionsCommand {
    /// Register definitions from JSON or YAML files (a new version each, unless unchanged).
    Register { files: Vec<PathBuf> },
    /// Show a definition: `name` for the latest version, `name:version` for one.
    Show { reference: String },
}

pub async fn run(command: DefinitionsCommand) -> Result<()> {
    let (_, _, engine) = super::engine().await?;
    let store = engine.definitions().store();
    match command {
        DefinitionsCommand::Register { files } => {
            for file in files {
                let registered = register_file(store.as_ref(), &file).await?;
                println!(
                    "{}  registered from {}",
                    registered.reference(),
                    file.display()
                );
            }
        }
        DefinitionsCommand::Show { reference } => {
            let reference = DefinitionRef::parse(&reference).map_err(anyhow::Error::msg)?;
            let definition = store
                .get(&reference)
                .await?
                .with_context(|| format!("no definition {reference}"))?;
            println!("{}", serde_json::to_string_pretty(&definition)?);
        }
    }
    Ok(())
}

pub async fn register_file(
    store: &dyn tel_core::ports::DefinitionStore,
    file: &std::path::Path,
) -> Result<TaskDefinition> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let definition = TaskDefinition::parse_text(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    Ok(store.register(definition).await?)
}
