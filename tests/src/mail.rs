//! The mail SES sent, read back from the emulator: LocalStack lists it at
//! `/_aws/ses`; moto keeps it in its SES backend, which our moto launcher
//! serves in the same shape at `/moto-api/ses/sent`.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::Value;

use super::endpoint;

/// One mail as the emulator recorded it.
#[derive(Debug, Clone)]
pub struct SentMail {
    pub to: Vec<String>,
    pub source: String,
    pub subject: String,
    pub text: String,
}

/// Verifies `address` as a sender identity (what an operator does once in SES).
pub async fn verify_sender(sdk: &aws_config::SdkConfig, address: &str) -> Result<()> {
    aws_sdk_ses::Client::new(sdk)
        .verify_email_identity()
        .email_address(address)
        .send()
        .await?;
    Ok(())
}

/// Every mail the emulator at `endpoint` recorded.
pub async fn sent_mail(endpoint: &str) -> Result<Vec<SentMail>> {
    let client = crate::http_client();
    let mut answer = client
        .get(format!("{endpoint}/moto-api/ses/sent"))
        .send()
        .await?;
    if !answer.status().is_success() {
        answer = client.get(format!("{endpoint}/_aws/ses")).send().await?;
    }
    let body: Value = answer.json().await?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Ok(body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| SentMail {
            to: m["Destination"]["ToAddresses"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect(),
            source: text(&m["Source"]),
            subject: text(&m["Subject"]),
            text: text(&m["Body"]["text_part"]),
        })
        .collect())
}

/// The mail sent to `address` (the emulator the tests use).
pub async fn mail_to(address: &str) -> Result<Vec<SentMail>> {
    mail_to_at(&endpoint(), address).await
}

/// The mail the emulator at `endpoint` sent to `address`.
pub async fn mail_to_at(endpoint: &str, address: &str) -> Result<Vec<SentMail>> {
    Ok(sent_mail(endpoint)
        .await?
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == address))
        .collect())
}

/// Waits until `address` has had `count` mails; returns them.
pub async fn wait_for_mail(
    address: &str,
    count: usize,
    timeout: Duration,
) -> Result<Vec<SentMail>> {
    wait_for_mail_at(&endpoint(), address, count, timeout).await
}

/// As `wait_for_mail`, from the emulator at `endpoint`.
pub async fn wait_for_mail_at(
    endpoint: &str,
    address: &str,
    count: usize,
    timeout: Duration,
) -> Result<Vec<SentMail>> {
    let deadline = Instant::now() + timeout;
    loop {
        let mail = mail_to_at(endpoint, address).await?;
        if mail.len() >= count {
            return Ok(mail);
        }
        if Instant::now() >= deadline {
            bail!(
                "{address} had {} mail(s), not {count}, within {timeout:?}: {mail:?}",
                mail.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
