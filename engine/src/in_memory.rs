//! An engine over in-memory ports (`tel_core::fakes`): nothing is durable.
//! For unit tests, the in-process pipeline and its benchmark; compiled only
//! with the `fakes` feature (or in this crate's tests), so no function has it.

use std::sync::Arc;

use tel_core::fakes::{
    InMemoryDefinitionStore, InMemoryIntegrationStore, InMemoryPayloadStore, InMemoryTaskStore,
    RecordingCallbacks, RecordingPublisher, RecordingQueue,
};

use super::EngineBuilder;
use crate::config::{QueueUrls, Settings};

/// Queue "URLs" of an engine whose queue is a `RecordingQueue`.
pub fn in_memory_queue_urls() -> QueueUrls {
    QueueUrls {
        requests: "requests".into(),
        validate: "validate".into(),
        execute: "execute".into(),
        manual: "manual".into(),
        validate_priority: None,
        execute_priority: None,
    }
}

impl EngineBuilder {
    /// In-memory ports: nothing is durable. The returned handles let the
    /// caller see what was stored, sent and published.
    pub fn in_memory(settings: Settings) -> (Self, InMemoryHandles) {
        let handles = InMemoryHandles {
            table: Arc::new(
                InMemoryTaskStore::default().with_deadline_shards(settings.deadline_shards),
            ),
            queue: Arc::new(RecordingQueue::default()),
            publisher: Arc::new(RecordingPublisher::default()),
            payloads: Arc::new(InMemoryPayloadStore::default()),
            callbacks: Arc::new(RecordingCallbacks::default()),
        };
        let builder = Self::default()
            .table(handles.table.clone())
            .definitions(Arc::new(InMemoryDefinitionStore::default()))
            .integrations(Arc::new(InMemoryIntegrationStore::default()))
            .publisher(handles.publisher.clone())
            .queues(handles.queue.clone(), in_memory_queue_urls())
            .payloads(Some(handles.payloads.clone()))
            .callbacks(handles.callbacks.clone())
            .settings(settings);
        (builder, handles)
    }
}

/// What an in-memory engine stored, sent and published.
#[derive(Clone)]
pub struct InMemoryHandles {
    pub table: Arc<InMemoryTaskStore>,
    pub queue: Arc<RecordingQueue>,
    pub publisher: Arc<RecordingPublisher>,
    pub payloads: Arc<InMemoryPayloadStore>,
    pub callbacks: Arc<RecordingCallbacks>,
}
