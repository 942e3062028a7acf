//! Lambda's `ParallelizationFactor`, locally: one read of a shard split by
//! partition key into lanes, each lane handed to the publisher in batches of
//! its own, the lanes side by side. Every write of a task is under the
//! task's key, so a task's changes are in one lane and in order; other
//! tasks' go out beside them. A lane the bus refuses keeps what it has left
//! (from its first change not published) for the next try, and only that:
//! the lanes that went through are not published again.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

use tel_aws::dynamo::stream::StreamRecord;
use tel_engine::handlers::ChangePublisher;
use tel_engine::lambda::task_changes;
use tracing::debug;

use super::invocations::InvocationLog;

/// Splits `records` into `lanes` lanes by their partition key, each lane in
/// the records' order. Empty lanes are left out.
pub fn split(records: Vec<StreamRecord>, lanes: usize) -> Vec<Vec<StreamRecord>> {
    let lanes = lanes.max(1);
    let mut split: Vec<Vec<StreamRecord>> = (0..lanes).map(|_| Vec::new()).collect();
    for record in records {
        split[lane_of(&record, lanes)].push(record);
    }
    split.retain(|lane| !lane.is_empty());
    split
}

/// The lane of a record: a hash of its item's partition key. (The fixed
/// keys of `DefaultHasher::new` make it the same for every record of a task.)
fn lane_of(record: &StreamRecord, lanes: usize) -> usize {
    let mut hasher = DefaultHasher::new();
    record.partition_key().hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

/// Publishes every lane, the lanes side by side, each in batches of at most
/// `batch` records, one after another; returns what each refused lane has
/// left, from its first change not published.
pub async fn publish(
    publisher: &ChangePublisher,
    invocations: &InvocationLog,
    lanes: Vec<Vec<StreamRecord>>,
    batch: usize,
) -> Vec<Vec<StreamRecord>> {
    let left = futures::future::join_all(
        lanes
            .into_iter()
            .map(|lane| publish_lane(publisher, invocations, lane, batch)),
    )
    .await;
    left.into_iter().filter(|lane| !lane.is_empty()).collect()
}

/// One lane, batch after batch; what is left once the bus refuses one.
async fn publish_lane(
    publisher: &ChangePublisher,
    invocations: &InvocationLog,
    mut lane: Vec<StreamRecord>,
    batch: usize,
) -> Vec<StreamRecord> {
    let mut done = 0;
    while done < lane.len() {
        let end = (done + batch.max(1)).min(lane.len());
        let records = &lane[done..end];
        let started = Instant::now();
        let published = publisher.publish(&task_changes(records)).await;
        invocations.record("publisher", records.len(), started.elapsed());
        match published {
            Ok(_) => done = end,
            Err(unpublished) => {
                debug!(%unpublished, "stream lane held");
                let first = records
                    .iter()
                    .position(|r| r.sequence == unpublished.sequence)
                    .unwrap_or(0);
                return lane.split_off(done + first);
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn write(sequence: usize, task: usize) -> StreamRecord {
        let item = [
            ("PK".to_owned(), AttributeValue::S(format!("TASK#{task}"))),
            ("SK".to_owned(), AttributeValue::S("TASK".to_owned())),
        ]
        .into();
        StreamRecord {
            sequence: sequence.to_string(),
            old: None,
            new: Some(item),
        }
    }

    #[test]
    fn a_tasks_writes_share_a_lane_in_their_order() {
        let records: Vec<_> = (0..300).map(|n| write(n, n % 37)).collect();
        let lanes = split(records, 4);
        assert_eq!(lanes.len(), 4, "37 tasks fill four lanes");
        let mut lane_of_task = std::collections::HashMap::new();
        for (lane, records) in lanes.iter().enumerate() {
            let sequences: Vec<usize> = records
                .iter()
                .map(|r| r.sequence.parse().unwrap())
                .collect();
            assert!(sequences.is_sorted(), "lane {lane} in the stream's order");
            for record in records {
                let task = record.partition_key().unwrap().to_owned();
                assert_eq!(*lane_of_task.entry(task).or_insert(lane), lane);
            }
        }
        assert_eq!(lanes.iter().map(Vec::len).sum::<usize>(), 300);
    }

    #[test]
    fn one_lane_keeps_the_read_as_it_is() {
        let records: Vec<_> = (0..10).map(|n| write(n, n)).collect();
        assert_eq!(split(records.clone(), 1), vec![records]);
        assert!(split(Vec::new(), 4).is_empty());
    }
}
