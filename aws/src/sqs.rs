//! `QueueSender` over SQS: batches of at most 10 messages and 256 KiB,
//! retrying only the entries SQS did not take.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, MessageAttributeValue,
    MessageSystemAttributeNameForSends, MessageSystemAttributeValue, SendMessageBatchRequestEntry,
};

use crate::aws_error::classify;
use tel_core::domain::trace::xray_header;
use tel_core::ports::{OutgoingMessage, QueueDepth, QueueError, QueueSender};

pub const MAX_BATCH_MESSAGES: usize = 10;
/// The payload limit of one message is also one batch's.
const MAX_PAYLOAD_BYTES: usize = tel_core::ports::MAX_MESSAGE_BYTES;
/// The message attribute that carries trace context between stages.
pub const TRACE_ATTRIBUTE: &str = "traceparent";
const SEND_ROUNDS: u32 = 4;

#[derive(Clone)]
pub struct SqsQueueSender {
    client: Client,
}

impl SqsQueueSender {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// Splits messages into batches within the count and size limits.
pub fn batches(messages: &[OutgoingMessage]) -> Result<Vec<Vec<usize>>, QueueError> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for (i, message) in messages.iter().enumerate() {
        message.check()?;
        let size = message.body.len();
        match out.last_mut() {
            Some(batch)
                if batch.len() < MAX_BATCH_MESSAGES && bytes + size <= MAX_PAYLOAD_BYTES =>
            {
                batch.push(i);
                bytes += size;
            }
            _ => {
                out.push(vec![i]);
                bytes = size;
            }
        }
    }
    Ok(out)
}

#[async_trait]
impl QueueSender for SqsQueueSender {
    async fn send(
        &self,
        queue_url: &str,
        messages: Vec<OutgoingMessage>,
    ) -> Result<(), QueueError> {
        for batch in batches(&messages)? {
            let mut pending = batch;
            for round in 0..SEND_ROUNDS {
                let entries = pending
                    .iter()
                    .map(|&i| {
                        let trace = messages[i].trace.as_ref().map(|t| {
                            MessageAttributeValue::builder()
                                .data_type("String")
                                .string_value(t)
                                .build()
                        });
                        // The same trace in X-Ray's spelling, which Lambda
                        // continues: X-Ray joins the functions' segments.
                        let xray = messages[i]
                            .trace
                            .as_deref()
                            .and_then(xray_header)
                            .map(|header| {
                                MessageSystemAttributeValue::builder()
                                    .data_type("String")
                                    .string_value(header)
                                    .build()
                            })
                            .transpose()
                            .map_err(|e| QueueError::Rejected(e.to_string()))?;
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(&messages[i].body)
                            .delay_seconds(messages[i].delay_seconds as i32)
                            .set_message_system_attributes(xray.map(|value| {
                                [(MessageSystemAttributeNameForSends::AwsTraceHeader, value)].into()
                            }))
                            .set_message_attributes(match trace {
                                Some(Ok(value)) => {
                                    Some([(TRACE_ATTRIBUTE.to_owned(), value)].into())
                                }
                                _ => None,
                            })
                            .build()
                            .map_err(|e| QueueError::Rejected(e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let out = self
                    .client
                    .send_message_batch()
                    .queue_url(queue_url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| classify("SendMessageBatch", format!("queue {queue_url}"), e))?;
                if let Some(fault) = out.failed().iter().find(|f| f.sender_fault()) {
                    return Err(QueueError::Rejected(format!(
                        "{}: {}",
                        fault.code(),
                        fault.message().unwrap_or_default()
                    )));
                }
                pending = out
                    .failed()
                    .iter()
                    .filter_map(|f| f.id().parse().ok())
                    .collect();
                if pending.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50 << round)).await;
            }
            if !pending.is_empty() {
                return Err(QueueError::Unavailable(format!(
                    "{} message(s) not accepted by SQS",
                    pending.len()
                )));
            }
        }
        Ok(())
    }

    async fn depth(&self, queue_url: &str) -> Result<QueueDepth, QueueError> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(A::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| classify("GetQueueAttributes", format!("queue {queue_url}"), e))?;
        let attributes = out.attributes.unwrap_or_default();
        let count = |name: A| {
            attributes
                .get(&name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(QueueDepth {
            waiting: count(A::ApproximateNumberOfMessages),
            in_flight: count(A::ApproximateNumberOfMessagesNotVisible),
            delayed: count(A::ApproximateNumberOfMessagesDelayed),
        })
    }

    async fn hide_for(
        &self,
        queue_url: &str,
        receipts: &[String],
        seconds: u32,
    ) -> Result<(), QueueError> {
        change_visibility(&self.client, queue_url, receipts, seconds).await
    }
}

/// Sets received messages' visibility timeout to `seconds` from now, ten
/// receipts a call.
pub(crate) async fn change_visibility(
    client: &Client,
    queue_url: &str,
    receipts: &[String],
    seconds: u32,
) -> Result<(), QueueError> {
    for chunk in receipts.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, receipt)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .visibility_timeout(seconds as i32)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| QueueError::Rejected(e.to_string()))?;
        client
            .change_message_visibility_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify("ChangeMessageVisibilityBatch", queue_url, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(bytes: usize) -> OutgoingMessage {
        OutgoingMessage {
            trace: None,
            body: "x".repeat(bytes),
            delay_seconds: 0,
        }
    }

    #[test]
    fn batches_hold_at_most_ten_messages() {
        let messages: Vec<_> = (0..23).map(|_| message(10)).collect();
        let sizes: Vec<usize> = batches(&messages).unwrap().iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 3]);
    }

    #[test]
    fn batches_stay_within_the_payload_limit() {
        let messages: Vec<_> = (0..4).map(|_| message(100 * 1024)).collect();
        let sizes: Vec<usize> = batches(&messages).unwrap().iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2, 2]);
    }

    #[test]
    fn oversized_messages_and_delays_are_rejected() {
        assert!(matches!(
            batches(&[message(MAX_PAYLOAD_BYTES + 1)]),
            Err(QueueError::Rejected(_))
        ));
        let late = OutgoingMessage {
            trace: None,
            body: "x".into(),
            delay_seconds: 901,
        };
        assert!(matches!(batches(&[late]), Err(QueueError::Rejected(_))));
    }
}
