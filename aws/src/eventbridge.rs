//! `EventPublisher` over EventBridge: chunks of 10, `FailedEntryCount`
//! checked, only the failed entries retried, and a chunk that stays refused
//! stops the batch (`chunks`).

mod chunks;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::aws_error::classify;
use tel_core::ports::{AwsError, BusEvent, EventPublisher, PublishError};

pub use chunks::MAX_ENTRIES_PER_CALL;
use chunks::{Refused, publish_in_chunks};

/// PutEvents limit for one entry (source, detail-type and detail together).
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

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
        publish_in_chunks(events, |batch| self.put_events(batch)).await
    }
}

impl EventBridgePublisher {
    /// One `PutEvents` call; the entries it refused, by their place in it.
    async fn put_events(&self, batch: Vec<&BusEvent>) -> Result<Refused, AwsError> {
        let entries = batch.iter().map(|event| self.entry(event)).collect();
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify("PutEvents", format!("bus {}", self.bus_name), e))?;
        if out.failed_entry_count() == 0 {
            return Ok(Vec::new());
        }
        // Result entries line up with request entries.
        Ok(out
            .entries()
            .iter()
            .enumerate()
            .filter_map(|(place, result)| {
                let code = result.error_code()?;
                let message = result.error_message().unwrap_or_default();
                Some((place, format!("{code}: {message}")))
            })
            .collect())
    }
}
