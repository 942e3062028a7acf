//! Events sent ten to a `PutEvents` call, the entries a call refused sent
//! again for a few rounds. A chunk still refused after its rounds stops the
//! batch there: the chunks after it are not sent. The stream delivers the
//! batch again from the first change not published, so whatever a later
//! chunk had published would go out twice, and a task's later event could
//! reach the bus before its earlier one.

use std::future::Future;
use std::time::Duration;

use tel_core::ports::{AwsError, BusEvent, PublishError};

/// Entries per `PutEvents` call (the API's limit).
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// Calls per chunk before its refused entries are given up on.
const PUBLISH_ROUNDS: u32 = 5;

/// The entries one call's answer refused: each one's place in the call, and
/// why.
pub type Refused = Vec<(usize, String)>;

/// Sends `events` in order, through `send` (one `PutEvents` call: the
/// entries given, in order). The error names every event not published:
/// the refused ones of the chunk that stopped, and all after that chunk.
pub async fn publish_in_chunks<'e, S, F>(
    events: &'e [BusEvent],
    mut send: S,
) -> Result<(), PublishError>
where
    S: FnMut(Vec<&'e BusEvent>) -> F,
    F: Future<Output = Result<Refused, AwsError>>,
{
    let mut message = String::new();
    for (chunk_index, chunk) in events.chunks(MAX_ENTRIES_PER_CALL).enumerate() {
        let offset = chunk_index * MAX_ENTRIES_PER_CALL;
        let mut pending: Vec<usize> = (0..chunk.len()).collect();
        let mut refused_for_good = None;
        for round in 0..PUBLISH_ROUNDS {
            match send(pending.iter().map(|&i| &chunk[i]).collect()).await {
                Ok(refused) => {
                    if let Some((_, why)) = refused.last() {
                        message.clone_from(why);
                    }
                    pending = refused
                        .iter()
                        .filter_map(|(place, _)| pending.get(*place).copied())
                        .collect();
                }
                Err(error) if error.is_transient() => message = error.to_string(),
                // A bus that is missing or denied now is so for the rest.
                Err(error) => refused_for_good = Some(error),
            }
            if pending.is_empty() || refused_for_good.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50 << round)).await;
        }
        if !pending.is_empty() {
            let failed = pending
                .iter()
                .map(|i| i + offset)
                .chain(offset + chunk.len()..events.len())
                .collect();
            return Err(match refused_for_good {
                Some(source) => PublishError::BusRefused { failed, source },
                None => PublishError::Unavailable { failed, message },
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tel_core::ports::ErrorClass;

    fn events(n: usize) -> Vec<BusEvent> {
        (0..n)
            .map(|i| BusEvent {
                source: "tel".into(),
                detail_type: "task.created".into(),
                detail: i.to_string(),
            })
            .collect()
    }

    fn error(class: ErrorClass) -> AwsError {
        AwsError {
            operation: "PutEvents",
            resource: "bus test".into(),
            class,
            code: Some("Simulated".into()),
            source: "simulated".into(),
        }
    }

    /// Every call's events, by their number.
    fn calls(log: &Mutex<Vec<Vec<usize>>>) -> Vec<Vec<usize>> {
        log.lock().unwrap().clone()
    }

    fn numbers(batch: &[&BusEvent]) -> Vec<usize> {
        batch.iter().map(|e| e.detail.parse().unwrap()).collect()
    }

    #[tokio::test]
    async fn a_chunk_refused_for_now_stops_the_batch_and_only_its_refused_entries_go_again() {
        let log = Mutex::new(Vec::new());
        let sent = publish_in_chunks(&events(25), |batch| {
            let batch = numbers(&batch);
            log.lock().unwrap().push(batch.clone());
            // Event 13 is always throttled; the rest are taken.
            let refused = batch
                .iter()
                .position(|&n| n == 13)
                .map(|place| vec![(place, "ThrottlingException: slow down".to_owned())])
                .unwrap_or_default();
            async move { Ok(refused) }
        })
        .await;
        let Err(PublishError::Unavailable { failed, message }) = sent else {
            panic!("{sent:?}")
        };
        assert_eq!(failed, [13, 20, 21, 22, 23, 24]);
        assert_eq!(message, "ThrottlingException: slow down");
        let calls = calls(&log);
        assert_eq!(calls[0], (0..10).collect::<Vec<_>>());
        assert_eq!(calls[1], (10..20).collect::<Vec<_>>());
        assert!(calls[2..].iter().all(|call| call == &[13]), "{calls:?}");
        assert_eq!(
            calls.len(),
            1 + PUBLISH_ROUNDS as usize,
            "no event after the chunk sent"
        );
    }

    #[tokio::test]
    async fn a_bus_refused_for_good_stops_at_once_and_a_throttled_call_is_tried_again() {
        let log = Mutex::new(Vec::new());
        let sent = publish_in_chunks(&events(15), |batch| {
            log.lock().unwrap().push(numbers(&batch));
            let first = log.lock().unwrap().len() == 1;
            async move {
                if first {
                    Err(error(ErrorClass::Transient))
                } else {
                    Err(error(ErrorClass::Configuration))
                }
            }
        })
        .await;
        let Err(PublishError::BusRefused { failed, .. }) = sent else {
            panic!("{sent:?}")
        };
        assert_eq!(failed, (0..15).collect::<Vec<_>>());
        assert_eq!(calls(&log).len(), 2, "tried again once, then stopped");

        let log = Mutex::new(Vec::new());
        publish_in_chunks(&events(15), |batch| {
            log.lock().unwrap().push(numbers(&batch));
            async { Ok(Vec::new()) }
        })
        .await
        .unwrap();
        assert_eq!(
            calls(&log),
            [(0..10).collect::<Vec<_>>(), (10..15).collect()]
        );
    }
}
