//! `DeadLetterQueues` over SQS: a listing peeks (receives with a short
//! visibility timeout, then makes every message visible again), a redrive
//! sends each message back to its source queue before deleting it.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};

use crate::aws_error::classify;
use tel_core::ports::{DeadLetterQueues, HeldMessage, QueueError};

/// How long listed messages stay hidden from other readers of the dead-letter queue.
const PEEK_SECONDS: i32 = 5;

/// How long one listing reads at most (less than PEEK_SECONDS would allow
/// a message to come round twice unnoticed; it is ended by repeats anyway).
const PEEK_TIME: std::time::Duration = std::time::Duration::from_secs(20);

/// How long a message being redriven stays hidden while it is sent back.
const REDRIVE_SECONDS: i32 = 30;

#[derive(Clone)]
pub struct SqsDeadLetterQueues {
    client: Client,
}

impl SqsDeadLetterQueues {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Makes listed messages visible again at once (the peek only hid them
    /// from the listing's own reads).
    async fn show_again(
        &self,
        dead_letter_url: &str,
        receipts: &[String],
    ) -> Result<(), QueueError> {
        crate::sqs::change_visibility(&self.client, dead_letter_url, receipts, 0).await
    }

    /// Moves messages back (`only`: just those ids; the others stay hidden
    /// from this redrive's reads until it ends, then are shown again).
    async fn move_back(
        &self,
        dead_letter_url: &str,
        source_url: &str,
        max: usize,
        only: Option<&HashSet<String>>,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<usize, QueueError> {
        let mut moved = 0;
        let mut passed_over: BTreeMap<String, String> = BTreeMap::new();
        while moved < max {
            let out = self
                .client
                .receive_message()
                .queue_url(dead_letter_url)
                .max_number_of_messages(if only.is_some() {
                    10
                } else {
                    10.min((max - moved) as i32)
                })
                .visibility_timeout(REDRIVE_SECONDS)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(|e| classify("ReceiveMessage", dead_letter_url, e))?;
            let received = out.messages.unwrap_or_default();
            if received.is_empty() {
                break;
            }
            let (messages, others): (Vec<_>, Vec<_>) = received.into_iter().partition(|m| {
                only.is_none_or(|ids| ids.contains(m.message_id().unwrap_or_default()))
            });
            let fresh = others
                .iter()
                .filter(|m| {
                    passed_over
                        .insert(
                            m.message_id.clone().unwrap_or_default(),
                            m.receipt_handle.clone().unwrap_or_default(),
                        )
                        .is_none()
                })
                .count();
            if messages.is_empty() {
                // Only messages already passed over: the queue has been read through.
                if fresh == 0 {
                    break;
                }
                continue;
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
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| QueueError::Rejected(e.to_string()))?;
            let sent = self
                .client
                .send_message_batch()
                .queue_url(source_url)
                .set_entries(Some(sends))
                .send()
                .await
                .map_err(|e| classify("SendMessageBatch", source_url, e))?;
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
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| QueueError::Rejected(e.to_string()))?;
            // Counted once deleted: a message whose delete failed is still
            // there (its copy was sent, which the handlers absorb).
            let mut deleted = 0;
            if !deletes.is_empty() {
                let attempted = deletes.len();
                let out = self
                    .client
                    .delete_message_batch()
                    .queue_url(dead_letter_url)
                    .set_entries(Some(deletes))
                    .send()
                    .await
                    .map_err(|e| classify("DeleteMessageBatch", dead_letter_url, e))?;
                deleted = attempted - out.failed().len();
            }
            moved += deleted;
            progress(moved);
            if let Some(failure) = sent.failed().first() {
                self.show_again(
                    dead_letter_url,
                    &passed_over.into_values().collect::<Vec<_>>(),
                )
                .await?;
                return Err(QueueError::Unavailable(format!(
                    "{moved} message(s) moved, then {} could not be sent back ({}: {}); they stay in the dead-letter queue",
                    sent.failed().len(),
                    failure.code(),
                    failure.message().unwrap_or("no message")
                )));
            }
        }
        self.show_again(
            dead_letter_url,
            &passed_over.into_values().collect::<Vec<_>>(),
        )
        .await?;
        Ok(moved)
    }
}

#[async_trait]
impl DeadLetterQueues for SqsDeadLetterQueues {
    async fn peek(
        &self,
        dead_letter_url: &str,
        max: usize,
    ) -> Result<Vec<HeldMessage>, QueueError> {
        let mut seen = BTreeMap::new();
        let mut peeked = Vec::new();
        let started = std::time::Instant::now();
        // Messages peeked at show again after PEEK_SECONDS: a receive that
        // brings nothing new, or the time running out, ends the listing.
        while seen.len() < max && started.elapsed() < PEEK_TIME {
            let out = self
                .client
                .receive_message()
                .queue_url(dead_letter_url)
                .max_number_of_messages(10)
                .visibility_timeout(PEEK_SECONDS)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .map_err(|e| classify("ReceiveMessage", dead_letter_url, e))?;
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            if messages
                .iter()
                .all(|m| seen.contains_key(m.message_id().unwrap_or_default()))
            {
                break;
            }
            for m in messages {
                let id = m.message_id.clone().unwrap_or_default();
                peeked.extend(m.receipt_handle.clone());
                let attribute = |name: MessageSystemAttributeName| {
                    m.attributes.as_ref().and_then(|a| a.get(&name)).cloned()
                };
                seen.entry(id.clone()).or_insert(HeldMessage {
                    receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|c| c.parse().ok()),
                    sent_at: attribute(MessageSystemAttributeName::SentTimestamp)
                        .and_then(|ms| ms.parse::<i64>().ok())
                        .and_then(chrono::DateTime::from_timestamp_millis),
                    body: m.body.unwrap_or_default(),
                    message_id: id,
                });
            }
        }
        self.show_again(dead_letter_url, &peeked).await?;
        Ok(seen.into_values().collect())
    }

    async fn redrive(
        &self,
        dead_letter_url: &str,
        source_url: &str,
        max: usize,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<usize, QueueError> {
        self.move_back(dead_letter_url, source_url, max, None, progress)
            .await
    }

    async fn redrive_only(
        &self,
        dead_letter_url: &str,
        source_url: &str,
        only: &HashSet<String>,
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<usize, QueueError> {
        self.move_back(
            dead_letter_url,
            source_url,
            only.len(),
            Some(only),
            progress,
        )
        .await
    }
}
