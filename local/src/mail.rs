//! Mail on the emulator: a sender identity verified as an operator verifies
//! it once in SES, so `tel dev` can send its notifications.

use anyhow::{Context, Result};
use aws_config::SdkConfig;

/// Verifies `address` as an SES sender identity in the emulator.
pub async fn verify_sender(sdk: &SdkConfig, address: &str) -> Result<()> {
    aws_sdk_ses::Client::new(sdk)
        .verify_email_identity()
        .email_address(address)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(aws_sdk_ses::error::DisplayErrorContext(e).to_string()))
        .with_context(|| format!("verifying {address} as a sender"))?;
    Ok(())
}
