//! Seeing and recovering what is in a dead-letter queue: each message with
//! the reason it was given up on (noted by the handler on its last
//! delivery) and its step token hidden. Redrive is the port's
//! (`DeadLetterQueues::redrive`).

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use serde::Serialize;

use tel_core::domain::Envelope;
use tel_core::ports::{DeadLetterLog, DeadLetterNote, DeadLetterQueues, TaskStore};

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

/// The dead letters (of the first `max`) that name a task of `definition`:
/// a request by its `taskDefinitionId` (also inside an EventBridge
/// envelope's `detail`), a stage message by its task's definition (read
/// from the table). Others name no definition and are never picked.
pub async fn naming_definition(
    queues: &dyn DeadLetterQueues,
    tasks: &dyn TaskStore,
    dead_letter_url: &str,
    definition: &str,
    max: usize,
) -> Result<HashSet<String>> {
    let held = queues
        .peek(dead_letter_url, max)
        .await
        .context("reading the dead-letter queue")?;
    let mut picked = HashSet::new();
    for message in held {
        let named = match Envelope::parse(&message.body) {
            Ok(envelope) => tasks
                .get(envelope.task_instance_id)
                .await?
                .map(|task| task.definition_name),
            Err(_) => requested_definition(&message.body),
        };
        if named.as_deref() == Some(definition) {
            picked.insert(message.message_id);
        }
    }
    Ok(picked)
}

/// The definition's name a request body asks for (without its `:version`).
fn requested_definition(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let named = value
        .get("taskDefinitionId")
        .or_else(|| value.get("detail")?.get("taskDefinitionId"))?
        .as_str()?;
    Some(named.split(':').next().unwrap_or(named).to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_its_definition_directly_or_in_its_envelope() {
        let direct = r#"{"taskDefinitionId":"charge:3","workflowInstanceId":"wf"}"#;
        let enveloped =
            r#"{"detail-type":"task.requested","detail":{"taskDefinitionId":"charge"}}"#;
        assert_eq!(requested_definition(direct).as_deref(), Some("charge"));
        assert_eq!(requested_definition(enveloped).as_deref(), Some("charge"));
        assert_eq!(requested_definition(r#"{"input":{}}"#), None);
        assert_eq!(requested_definition("not json"), None);
    }
}
