//! Seeing and recovering what is in a dead-letter queue: each message with
//! the reason it was given up on (noted by the handler on its last
//! delivery) and its step token hidden. Redrive is the port's
//! (`DeadLetterQueues::redrive`).

use std::collections::HashMap;

use anyhow::{Context, Result};
use serde::Serialize;

use tel_core::ports::{DeadLetterLog, DeadLetterNote, DeadLetterQueues};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub message_id: String,
    pub body: String,
    pub receive_count: Option<u32>,
    pub sent_at: Option<String>,
    /// Why it was given up on, when the handler could say.
    pub note: Option<DeadLetterNote>,
}

fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Every message in the dead-letter queue (up to `max`), without removing
/// any, each with the reason it was given up on and its step token hidden.
pub async fn list(
    queues: &dyn DeadLetterQueues,
    notes: &dyn DeadLetterLog,
    dead_letter_url: &str,
    source_url: &str,
    max: usize,
) -> Result<Vec<DeadLetter>> {
    let reasons: HashMap<String, DeadLetterNote> = notes
        .notes(queue_name(source_url))
        .await?
        .into_iter()
        .map(|n| (n.message_id.clone(), n))
        .collect();
    let held = queues
        .peek(dead_letter_url, max)
        .await
        .context("reading the dead-letter queue")?;
    Ok(held
        .into_iter()
        .map(|m| DeadLetter {
            note: reasons.get(&m.message_id).cloned(),
            receive_count: m.receive_count,
            sent_at: m.sent_at.map(|t| t.to_rfc3339()),
            body: redacted(&m.body),
            message_id: m.message_id,
        })
        .collect())
}

/// A message body as operators may see it: a request's `taskToken` (also
/// inside a `task.requested` envelope's `detail`) is a credential that ends
/// someone's workflow step, so it is shown as `<redacted>`. A body that is
/// not JSON is shown as it is.
pub fn redacted(body: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.to_owned();
    };
    let changed = redact_token(&mut value);
    if changed {
        value.to_string()
    } else {
        body.to_owned()
    }
}

/// Replaces `taskToken` in `value` and in its `detail` (an EventBridge
/// envelope); whether it did.
fn redact_token(value: &mut serde_json::Value) -> bool {
    let mut changed = false;
    if let Some(detail) = value.get_mut("detail") {
        changed |= redact_token(detail);
    }
    if let Some(token) = value.get_mut("taskToken")
        && !token.is_null()
    {
        *token = serde_json::Value::String("<redacted>".into());
        changed = true;
    }
    changed
}
