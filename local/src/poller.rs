//! Plays Lambda's SQS event source mapping locally (one poller, one queue,
//! as one event source mapping reads one queue): long-polls a queue,
//! builds a real `SqsEvent`, calls the same handler the Lambda binary calls,
//! deletes only the records the handler did not report as failed, and leaves
//! the failures to the queue's visibility timeout and redrive policy.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use lambda_runtime::{Context, LambdaEvent};
use tokio::sync::watch;
use tracing::{debug, warn};

use super::invocations::InvocationLog;
use tel_engine::batch::SqsHandler;

/// One queue a poller reads.
#[derive(Clone, Debug)]
pub struct Lane {
    pub url: String,
    pub arn: String,
}

#[derive(Clone)]
pub struct Poller {
    pub sqs: Client,
    pub lane: Lane,
    pub region: String,
    pub handler: Arc<dyn SqsHandler>,
    /// Messages per batch, 1 to 10.
    pub batch_size: i32,
    /// Long-poll wait, 0 to 20 seconds.
    pub wait_seconds: i32,
    /// Where each invocation is counted and timed.
    pub invocations: Arc<InvocationLog>,
}

/// What one poll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollOutcome {
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
}

impl Poller {
    /// Polls until `shutdown` turns true. Only the wait for messages is cut
    /// short: a batch received is handled and deleted before the poller stops.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let received = tokio::select! {
                _ = shutdown.changed() => break,
                received = self.receive() => received,
            };
            let outcome = match received {
                Ok(messages) => self.handle(messages).await,
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                warn!(function = self.handler.name(), error = %e, "poll failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// One long poll, one handler call, one delete of what succeeded.
    pub async fn poll_once(&self) -> anyhow::Result<PollOutcome> {
        let messages = self.receive().await?;
        self.handle(messages).await
    }

    async fn receive(&self) -> anyhow::Result<Vec<Message>> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.lane.url)
            .max_number_of_messages(self.batch_size.clamp(1, 10))
            .wait_time_seconds(self.wait_seconds.clamp(0, 20))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(received.messages.unwrap_or_default())
    }

    async fn handle(&self, messages: Vec<Message>) -> anyhow::Result<PollOutcome> {
        let lane = &self.lane;
        if messages.is_empty() {
            return Ok(PollOutcome::default());
        }
        let receipts: HashMap<String, String> = messages
            .iter()
            .filter_map(|m| Some((m.message_id.clone()?, m.receipt_handle.clone()?)))
            .collect();
        let mut event = SqsEvent::default();
        event.records = (messages.into_iter())
            .map(|m| lambda_record(m, &lane.arn, &self.region))
            .collect();
        let received = event.records.len();
        let started = Instant::now();
        let inside = self.invocations.begin();
        let handled = self
            .handler
            .handle(LambdaEvent::new(event, Context::default()))
            .await;
        drop(inside);
        self.invocations
            .record(self.handler.name(), received, started.elapsed());
        let failed: HashSet<String> = match handled {
            Ok(response) => response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect(),
            // A function error fails the whole batch, as in Lambda.
            Err(e) => {
                warn!(function = self.handler.name(), error = %e, "handler failed the whole batch");
                receipts.keys().cloned().collect()
            }
        };
        let done: Vec<(&String, &String)> = receipts
            .iter()
            .filter(|(id, _)| !failed.contains(*id))
            .collect();
        for chunk in done.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, (_, receipt))| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(*receipt)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.sqs
                .delete_message_batch()
                .queue_url(&lane.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
                })?;
        }
        debug!(
            function = self.handler.name(),
            received,
            failed = failed.len(),
            "batch handled"
        );
        Ok(PollOutcome {
            received,
            deleted: done.len(),
            failed: failed.len(),
        })
    }
}

/// A received message as Lambda's SQS event source hands it to a function.
pub fn lambda_record(message: Message, queue_arn: &str, region: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.attributes = message
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_owned(), v))
        .collect();
    record.message_attributes = message
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| {
            let mut attribute = aws_lambda_events::sqs::SqsMessageAttribute::default();
            attribute.string_value = value.string_value;
            attribute.data_type = Some(value.data_type);
            (name, attribute)
        })
        .collect();
    record.message_id = message.message_id;
    record.receipt_handle = message.receipt_handle;
    record.body = message.body;
    record.md5_of_body = message.md5_of_body;
    record.event_source = Some("aws:sqs".to_owned());
    record.event_source_arn = Some(queue_arn.to_owned());
    record.aws_region = Some(region.to_owned());
    record
}
