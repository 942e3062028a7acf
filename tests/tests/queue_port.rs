//! The queue port, held to one behaviour: the same sends on the recording
//! queue the manual-clock tests rest on and on SQS on the emulator (a fresh
//! queue, nobody reading it), the same answers: any number of messages in
//! one call (the adapter batches them by SQS's count and size limits), a
//! message over the limits refused for what it is and nothing of its call
//! sent, delayed messages counted as delayed.

use std::sync::Arc;

use tel_core::fakes::RecordingQueue;
use tel_core::ports::{
    MAX_DELAY_SECONDS, MAX_MESSAGE_BYTES, OutgoingMessage, QueueDepth, QueueError, QueueSender,
};
use tel_tests::TestStack;

fn message(bytes: usize, delay_seconds: u32) -> OutgoingMessage {
    OutgoingMessage {
        body: "x".repeat(bytes),
        delay_seconds,
        trace: None,
    }
}

#[tokio::test]
async fn both_queues_take_any_count_refuse_what_is_over_the_limits_and_count_delays() {
    let t = TestStack::new().await.unwrap();
    let queues: [(&str, Arc<dyn QueueSender>, String); 2] = [
        (
            "the recording queue",
            Arc::new(RecordingQueue::default()),
            "validate".into(),
        ),
        (
            "SQS",
            t.engine.queues().clone(),
            t.queue_url("ValidateQueue"),
        ),
    ];
    for (name, queue, url) in queues {
        eprintln!("on {name}");
        // 25 messages of 30 KiB: more than one batch by count and by size.
        let many: Vec<OutgoingMessage> = (0..25).map(|_| message(30 * 1024, 0)).collect();
        queue.send(&url, many).await.unwrap();

        // One message over a limit refuses its whole call.
        for refused in [
            vec![message(10, 0), message(MAX_MESSAGE_BYTES + 1, 0)],
            vec![message(10, MAX_DELAY_SECONDS + 1)],
        ] {
            let answer = queue.send(&url, refused).await;
            assert!(matches!(answer, Err(QueueError::Rejected(_))), "{answer:?}");
        }
        queue
            .send(&url, vec![message(MAX_MESSAGE_BYTES, 60)])
            .await
            .unwrap();

        // SQS's counts are approximate for a moment after a send.
        let expected = QueueDepth {
            waiting: 25,
            in_flight: 0,
            delayed: 1,
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut depth = queue.depth(&url).await.unwrap();
        while depth != expected && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            depth = queue.depth(&url).await.unwrap();
        }
        assert_eq!(depth, expected);
    }
}
