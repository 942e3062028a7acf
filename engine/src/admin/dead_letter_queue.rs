//! Seeing and recovering what is in a dead-letter queue: each message with
//! the reason it was given up on (noted by the handler on its last
//! delivery), and redrive back to the queue it came from.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use serde::Serialize;

use tel_core::ports::{DeadLetterLog, DeadLetterNote};

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

/// How long listed messages stay hidden from other readers of the dead-letter queue.
const PEEK_SECONDS: i32 = 5;

fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Every message in the dead-letter queue (up to `max`), without removing any.
pub async fn list(
    sqs: &Client,
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
    let mut seen = BTreeMap::new();
    let mut peeked = Vec::new();
    while seen.len() < max {
        let out = sqs
            .receive_message()
            .queue_url(dead_letter_url)
            .max_number_of_messages(10)
            .visibility_timeout(PEEK_SECONDS)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .context("reading the dead-letter queue")?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            let id = m.message_id.clone().unwrap_or_default();
            peeked.extend(m.receipt_handle.clone());
            let attribute = |name: MessageSystemAttributeName| {
                m.attributes.as_ref().and_then(|a| a.get(&name)).cloned()
            };
            let sent_at = attribute(MessageSystemAttributeName::SentTimestamp)
                .and_then(|ms| ms.parse::<i64>().ok())
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339());
            seen.entry(id.clone()).or_insert(DeadLetter {
                note: reasons.get(&id).cloned(),
                receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                    .and_then(|c| c.parse().ok()),
                body: redacted(m.body.as_deref().unwrap_or_default()),
                message_id: id,
                sent_at,
            });
        }
    }
    show_again(sqs, dead_letter_url, &peeked).await?;
    Ok(seen.into_values().collect())
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

/// Makes listed messages visible again at once, so a redrive right after a
/// listing finds them (the peek only hid them from the listing's own reads).
async fn show_again(sqs: &Client, dead_letter_url: &str, receipts: &[String]) -> Result<()> {
    for chunk in receipts.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, receipt)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .visibility_timeout(0)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        sqs.change_message_visibility_batch()
            .queue_url(dead_letter_url)
            .set_entries(Some(entries))
            .send()
            .await
            .context("making listed dead letters visible again")?;
    }
    Ok(())
}

/// Moves up to `max` messages back to the queue they came from, with their
/// message attributes (the trace context); returns how many. `progress` hears
/// the running count after every batch. A message is deleted from the
/// dead-letter queue only once its copy is sent, so a failure part-way
/// loses nothing (at worst a message is sent twice, which the handlers absorb).
pub async fn redrive(
    sqs: &Client,
    dead_letter_url: &str,
    source_url: &str,
    max: usize,
    progress: &mut (dyn FnMut(usize) + Send),
) -> Result<usize> {
    let mut moved = 0;
    while moved < max {
        let out = sqs
            .receive_message()
            .queue_url(dead_letter_url)
            .max_number_of_messages(10.min((max - moved) as i32))
            .visibility_timeout(30)
            .message_attribute_names("All")
            .send()
            .await
            .context("reading the dead-letter queue")?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        let sends = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(m.body.clone().unwrap_or_default())
                    .set_message_attributes(m.message_attributes.clone())
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sent = sqs
            .send_message_batch()
            .queue_url(source_url)
            .set_entries(Some(sends))
            .send()
            .await
            .context("sending back to the source queue")?;
        let deletes = sent
            .successful()
            .iter()
            .filter_map(|ok| ok.id().parse::<usize>().ok())
            .filter_map(|i| messages.get(i))
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sent_count = deletes.len();
        if !deletes.is_empty() {
            sqs.delete_message_batch()
                .queue_url(dead_letter_url)
                .set_entries(Some(deletes))
                .send()
                .await
                .context("deleting redriven messages from the dead-letter queue")?;
        }
        moved += sent_count;
        progress(moved);
        if let Some(failure) = sent.failed().first() {
            anyhow::bail!(
                "{moved} message(s) moved, then {} could not be sent back ({}: {}); they stay in the dead-letter queue",
                sent.failed().len(),
                failure.code(),
                failure.message().unwrap_or("no message")
            );
        }
    }
    Ok(moved)
}
