use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    /// 0 to 900 seconds (the SQS maximum).
    pub delay_seconds: u32,
    /// W3C `traceparent` (or an X-Ray header), sent as the `traceparent` message attribute.
    pub trace: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub waiting: u64,
    pub in_flight: u64,
    /// Sent with a delay that has not passed yet.
    pub delayed: u64,
}

impl QueueDepth {
    /// Messages that will still be delivered without anyone's help.
    pub fn pending(&self) -> u64 {
        self.waiting + self.delayed
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("message rejected: {0}")]
    Rejected(String),
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait QueueSender: Send + Sync {
    /// Sends every message or returns an error; batching is the adapter's business.
    async fn send(&self, queue_url: &str, messages: Vec<OutgoingMessage>)
    -> Result<(), QueueError>;

    /// Messages waiting (visible), in flight (received, not yet deleted) and delayed.
    async fn depth(&self, queue_url: &str) -> Result<QueueDepth, QueueError>;
}
