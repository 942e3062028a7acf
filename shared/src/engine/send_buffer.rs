//! The stage messages of one SQS batch, sent together once every record of
//! the batch is handled: one `SendMessageBatch` per queue instead of one send
//! per record (a batch of ten records that each pass a task on costs one SQS
//! request, not ten). A record whose message could not be sent is reported
//! failed, so SQS delivers it again and its (idempotent) handler sends again.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};

use tracing::warn;

use crate::ports::{OutgoingMessage, QueueSender};

tokio::task_local! {
    /// The batch's buffer and the message id of the record being handled.
    static BATCH: (Arc<SendBuffer>, String);
}

#[derive(Default)]
pub struct SendBuffer {
    /// (record, queue URL, message), in the order they were asked for.
    pending: Mutex<Vec<(String, String, OutgoingMessage)>>,
}

impl SendBuffer {
    /// Runs one record's handling with its sends held here.
    pub async fn hold<F: Future>(self: &Arc<Self>, record: String, work: F) -> F::Output {
        BATCH.scope((self.clone(), record), work).await
    }

    /// Sends what the batch's records asked for, each queue's messages
    /// together; returns the records whose messages were not sent.
    pub async fn flush(&self, queues: &dyn QueueSender) -> HashSet<String> {
        let pending = std::mem::take(&mut *self.pending.lock().expect("send buffer lock"));
        let mut by_queue: BTreeMap<String, Vec<(String, OutgoingMessage)>> = BTreeMap::new();
        for (record, queue, message) in pending {
            by_queue.entry(queue).or_default().push((record, message));
        }
        let mut unsent = HashSet::new();
        for (queue, messages) in by_queue {
            let (records, messages): (Vec<String>, Vec<OutgoingMessage>) =
                messages.into_iter().unzip();
            if let Err(e) = queues.send(&queue, messages).await {
                warn!(queue, error = %e, records = records.len(), "stage messages not sent; their records go back to the queue");
                unsent.extend(records);
            }
        }
        unsent
    }
}

/// Holds `message` for the batch of the record being handled; gives it back
/// when there is none (an API call, a sweep), for the caller to send now.
pub(super) fn hold(queue: &str, message: OutgoingMessage) -> Option<OutgoingMessage> {
    let mut message = Some(message);
    let _ = BATCH.try_with(|(buffer, record)| {
        if let (Ok(mut pending), Some(m)) = (buffer.pending.lock(), message.take()) {
            pending.push((record.clone(), queue.to_owned(), m));
        }
    });
    message
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::ports::{QueueDepth, QueueError};

    fn message(body: &str) -> OutgoingMessage {
        OutgoingMessage {
            trace: None,
            body: body.into(),
            delay_seconds: 0,
        }
    }

    /// Records every send call; refuses the queue named "down".
    #[derive(Default)]
    struct Calls(Mutex<Vec<(String, usize)>>);

    #[async_trait]
    impl QueueSender for Calls {
        async fn send(&self, url: &str, messages: Vec<OutgoingMessage>) -> Result<(), QueueError> {
            self.0
                .lock()
                .unwrap()
                .push((url.to_owned(), messages.len()));
            if url == "down" {
                return Err(QueueError::Unavailable("simulated".into()));
            }
            Ok(())
        }
        async fn depth(&self, _: &str) -> Result<QueueDepth, QueueError> {
            Ok(QueueDepth::default())
        }
    }

    #[tokio::test]
    async fn a_batch_sends_once_per_queue_and_names_the_records_it_could_not_send() {
        let buffer = Arc::new(SendBuffer::default());
        for (record, queue) in [
            ("r1", "execute"),
            ("r2", "execute"),
            ("r3", "down"),
            ("r4", "manual"),
        ] {
            buffer
                .hold(record.into(), async {
                    assert!(hold(queue, message(record)).is_none(), "held, not sent");
                })
                .await;
        }
        let calls = Calls::default();
        let unsent = buffer.flush(&calls).await;
        assert_eq!(unsent, HashSet::from(["r3".to_owned()]));
        let mut sent = calls.0.lock().unwrap().clone();
        sent.sort();
        assert_eq!(
            sent,
            [
                ("down".into(), 1),
                ("execute".into(), 2),
                ("manual".into(), 1)
            ]
        );
    }

    #[tokio::test]
    async fn outside_a_batch_a_message_is_given_back_to_send_now() {
        assert_eq!(hold("execute", message("now")), Some(message("now")));
    }
}
