//! The stage messages of one SQS batch, sent together once every record of
//! the batch is handled: one `SendMessageBatch` per queue instead of one send
//! per record (a batch of ten records that each pass a task on costs one SQS
//! request, not ten). A record whose message could not be sent for now is
//! reported failed, so SQS delivers it again and its (idempotent) handler
//! sends again; one whose queue is missing or denied gets its task failed.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use tracing::warn;

use tel_core::domain::{TaskError, TaskInstanceId};
use tel_core::ports::{OutgoingMessage, QueueSender};

tokio::task_local! {
    /// The batch's buffer and the message id of the record being handled.
    static BATCH: (Arc<SendBuffer>, String);
}

#[derive(Default)]
pub struct SendBuffer {
    /// What the batch's records asked to send, in order.
    pending: Mutex<Vec<Held>>,
}

struct Held {
    record: String,
    task: TaskInstanceId,
    queue: String,
    message: OutgoingMessage,
}

/// A record whose message was not sent.
#[derive(Debug)]
pub struct Unsent {
    pub task: TaskInstanceId,
    /// What the task ends with when sending cannot work (the queue is
    /// missing or denied); `None` when it may work later.
    pub error: Option<TaskError>,
}

impl SendBuffer {
    /// Runs one record's handling with its sends held here.
    pub async fn hold<F: Future>(self: &Arc<Self>, record: String, work: F) -> F::Output {
        BATCH.scope((self.clone(), record), work).await
    }

    /// Sends what the batch's records asked for, each queue's messages
    /// together; returns, by record, what was not sent.
    pub async fn flush(&self, queues: &dyn QueueSender) -> HashMap<String, Unsent> {
        let pending = std::mem::take(&mut *self.pending.lock().expect("send buffer lock"));
        let mut by_queue: BTreeMap<String, Vec<Held>> = BTreeMap::new();
        for held in pending {
            by_queue.entry(held.queue.clone()).or_default().push(held);
        }
        let mut unsent = HashMap::new();
        for (queue, held) in by_queue {
            let messages = held.iter().map(|h| h.message.clone()).collect();
            if let Err(e) = queues.send(&queue, messages).await {
                warn!(queue, error = %e, records = held.len(), "stage messages not sent");
                for h in held {
                    let error = e.task_error();
                    unsent.insert(
                        h.record,
                        Unsent {
                            task: h.task,
                            error,
                        },
                    );
                }
            }
        }
        unsent
    }
}

/// Holds `message` (about `task`) for the batch of the record being handled;
/// gives it back when there is none (an API call, a sweep), to send now.
pub(super) fn hold(
    task: TaskInstanceId,
    queue: &str,
    message: OutgoingMessage,
) -> Option<OutgoingMessage> {
    let mut message = Some(message);
    let _ = BATCH.try_with(|(buffer, record)| {
        if let (Ok(mut pending), Some(m)) = (buffer.pending.lock(), message.take()) {
            pending.push(Held {
                record: record.clone(),
                task,
                queue: queue.to_owned(),
                message: m,
            });
        }
    });
    message
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use tel_core::ports::{QueueDepth, QueueError};

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
        async fn hide_for(&self, _: &str, _: &[String], _: u32) -> Result<(), QueueError> {
            unreachable!("the send buffer never hides messages")
        }
    }

    #[tokio::test]
    async fn a_batch_sends_once_per_queue_and_names_the_records_it_could_not_send() {
        let buffer = Arc::new(SendBuffer::default());
        let down = TaskInstanceId::new();
        for (record, queue) in [
            ("r1", "execute"),
            ("r2", "execute"),
            ("r3", "down"),
            ("r4", "manual"),
        ] {
            let task = if queue == "down" {
                down
            } else {
                TaskInstanceId::new()
            };
            buffer
                .hold(record.into(), async {
                    let held = hold(task, queue, message(record));
                    assert!(held.is_none(), "held, not sent");
                })
                .await;
        }
        let calls = Calls::default();
        let unsent = buffer.flush(&calls).await;
        assert_eq!(unsent.len(), 1);
        assert_eq!(unsent["r3"].task, down);
        assert!(
            unsent["r3"].error.is_none(),
            "unavailable for now: sent again later"
        );
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
        assert_eq!(
            hold(TaskInstanceId::new(), "execute", message("now")),
            Some(message("now"))
        );
    }
}
