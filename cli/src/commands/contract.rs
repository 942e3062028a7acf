//! `tel contract`: the API's documents, as the API serves them, for tools
//! and for the copies kept in docs/.

use anyhow::Result;
use clap::{Args, ValueEnum};

#[derive(Clone, Copy, ValueEnum)]
pub enum Document {
    /// The events, the requests queue and the Step Functions callbacks (AsyncAPI 3.0).
    Asyncapi,
    /// The HTTP API (OpenAPI 3.1).
    Openapi,
}

#[derive(Args)]
pub struct ContractArgs {
    document: Document,
    /// JSON instead of YAML.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ContractArgs) -> Result<()> {
    let document = match args.document {
        Document::Asyncapi => tel_engine::contract::asyncapi::document(),
        Document::Openapi => tel_api::openapi::document(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        print!("{}", serde_yaml::to_string(&document)?);
    }
    Ok(())
}
