//! `EventPublisher` over EventBridge: chunks of 10, `FailedEntryCount`
//! checked, only the failed entries retried.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::aws_error::classify;
use tel_core::ports::{AwsError, BusEvent, EventPublisher, PublishError};

pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// PutEvents limit for one entry (source, detail-type and detail together).
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;
const PUBLISH_ROUNDS: u32 = 5;

#[derive(Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus_name: String,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }

    fn entry(&self, event: &BusEvent) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&event.source)
            .detail_type(&event.detail_type)
            .detail(&event.detail)
            .build()
    }
}

pub fn entry_size(event: &BusEvent) -> usize {
    event.source.len() + event.detail_type.len() + event.detail.len()
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[BusEvent]) -> Result<(), PublishError> {
        if let Some(big) = events.iter().find(|e| entry_size(e) > MAX_ENTRY_BYTES) {
            return Err(PublishError::Rejected(format!(
                "{} event of {} bytes exceeds the {MAX_ENTRY_BYTES}-byte limit",
                big.detail_type,
                entry_size(big)
            )));
        }
        let mut failed = Vec::new();
        let mut last_message = String::new();
        let mut refused: Option<AwsError> = None;
        for (chunk_index, chunk) in events.chunks(MAX_ENTRIES_PER_CALL).enumerate() {
            let offset = chunk_index * MAX_ENTRIES_PER_CALL;
            let mut pending: Vec<usize> = (0..chunk.len()).collect();
            for round in 0..PUBLISH_ROUNDS {
                if refused.is_some() {
                    // A bus that is missing or denied now is so for the rest.
                    break;
                }
                let entries = pending.iter().map(|&i| self.entry(&chunk[i])).collect();
                match self
                    .client
                    .put_events()
                    .set_entries(Some(entries))
                    .send()
                    .await
                {
                    Ok(out) if out.failed_entry_count() == 0 => pending.clear(),
                    Ok(out) => {
                        // Result entries line up with request entries.
                        let still: Vec<usize> = out
                            .entries()
                            .iter()
                            .zip(&pending)
                            .filter(|(result, _)| result.error_code().is_some())
                            .map(|(result, &i)| {
                                last_message = format!(
                                    "{}: {}",
                                    result.error_code().unwrap_or_default(),
                                    result.error_message().unwrap_or_default()
                                );
                                i
                            })
                            .collect();
                        pending = still;
                    }
                    Err(e) => {
                        let error = classify("PutEvents", format!("bus {}", self.bus_name), e);
                        last_message = error.to_string();
                        if !error.is_transient() {
                            refused = Some(error);
                        }
                    }
                }
                if pending.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50 << round)).await;
            }
            failed.extend(pending.iter().map(|i| i + offset));
        }
        match (failed.is_empty(), refused) {
            (true, _) => Ok(()),
            (false, Some(source)) => Err(PublishError::BusRefused { failed, source }),
            (false, None) => Err(PublishError::Unavailable {
                failed,
                message: last_message,
            }),
        }
    }
}
