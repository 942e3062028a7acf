//! `tel token`: a development bearer token for the local API.

use anyhow::{Context, Result};
use clap::Args;

#[derive(Args)]
pub struct TokenArgs {
    /// The subject (`sub`) of the token.
    #[arg(long)]
    user: String,
    /// Groups, comma-separated (`tel-admins` makes an admin).
    #[arg(long, value_delimiter = ',')]
    groups: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: i64,
}

pub fn run(args: TokenArgs) -> Result<()> {
    let secret = std::env::var("TEL_JWT_HS256_SECRET")
        .context("no TEL_JWT_HS256_SECRET: run `tel dev` first (it writes .tel/dev.env)")?;
    println!(
        "{}",
        tel_api::auth::mint_dev_token(&secret, &args.user, &args.groups, args.ttl)?
    );
    Ok(())
}
