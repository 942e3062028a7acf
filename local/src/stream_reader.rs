//! Plays Lambda's event source mapping for the table's change stream: reads
//! every shard in order through the DynamoDB Streams API, hands each batch to
//! the same publisher the Lambda function runs, and moves on only past what
//! was published. Where it got to is kept in a checkpoint file (when given),
//! so a runner started again after a crash resumes there: events published
//! twice keep their ids; none is skipped.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{Shard, ShardIteratorType};
use tokio::sync::watch;
use tracing::{debug, warn};

use super::invocations::InvocationLog;
use tel_aws::dynamo::stream::StreamRecord;
use tel_engine::handlers::ChangePublisher;
use tel_engine::lambda::task_changes;

/// Records per GetRecords call (Lambda's default batch for streams is 100).
const BATCH: i32 = 100;
/// Wait between polls of a shard with nothing new: from the first, doubling
/// while nothing comes, up to the last, which is Lambda's own pace (it polls
/// a shard four times a second): a completion waits no longer for its event
/// here than it would on AWS.
const IDLE_FIRST: Duration = Duration::from_millis(100);
const IDLE_MAX: Duration = Duration::from_millis(250);

pub struct StreamReader {
    streams: Client,
    stream_arn: String,
    publisher: ChangePublisher,
    /// Where the position in each shard is kept between runs; in memory only without it.
    checkpoint: Option<PathBuf>,
    /// Where each invocation (a non-empty batch of task changes) is counted and timed.
    invocations: Arc<InvocationLog>,
}

/// How often the stream's shards are listed again.
const DESCRIBE_EVERY: Duration = Duration::from_secs(10);

/// Where each shard is being read, and the shards as last described.
#[derive(Default)]
struct Iterators {
    by_shard: BTreeMap<String, String>,
    shards: Vec<Shard>,
    described: Option<Instant>,
}

/// What one read of a shard came to.
struct ShardBatch {
    /// The last record read (task write or not): where the shard goes on from.
    last: Option<String>,
    /// The task changes' sequence numbers, in order.
    sequences: Vec<String>,
    next: Option<String>,
    published: Result<(), tel_engine::handlers::publisher::Unpublished>,
}

/// Per shard: the last sequence number published, or "done" for a closed
/// shard read to its end. Of one stream: a table made again has a new one.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Checkpoint {
    stream_arn: String,
    published: BTreeMap<String, String>,
    finished: HashSet<String>,
}

impl StreamReader {
    pub fn new(sdk: &aws_config::SdkConfig, stream_arn: &str, publisher: ChangePublisher) -> Self {
        Self {
            streams: Client::new(sdk),
            stream_arn: stream_arn.to_owned(),
            publisher,
            checkpoint: None,
            invocations: Arc::default(),
        }
    }

    /// Keeps the position across runs in this file.
    pub fn checkpoint(mut self, path: Option<PathBuf>) -> Self {
        self.checkpoint = path;
        self
    }

    pub fn invocations(mut self, log: Arc<InvocationLog>) -> Self {
        self.invocations = log;
        self
    }

    /// Reads until `shutdown` turns true, then publishes what is left.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut checkpoint = self.load();
        let mut iterators = Iterators::default();
        let mut idle = IDLE_FIRST;
        while !*shutdown.borrow() {
            let busy = match self.poll(&mut checkpoint, &mut iterators).await {
                Ok(busy) => busy,
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "stream poll failed");
                    iterators = Iterators::default();
                    false
                }
            };
            if busy {
                idle = IDLE_FIRST;
            } else {
                self.invocations.stream_caught_up();
                tokio::select! {
                    _ = shutdown.changed() => break,
                    _ = tokio::time::sleep(idle) => {}
                }
                idle = (idle * 2).min(IDLE_MAX);
            }
        }
        // The writers have stopped: publish what they wrote.
        self.drain(&mut checkpoint, &mut iterators).await;
    }

    /// Publishes everything in the stream not yet published (from the
    /// checkpoint), then returns: for a caller that wrote without a runner.
    pub async fn publish_pending(self) {
        let mut checkpoint = self.load();
        self.drain(&mut checkpoint, &mut Iterators::default()).await;
    }

    /// Polls until nothing new comes (bounded, in case the bus is down: the
    /// checkpoint keeps the rest for the next run).
    async fn drain(&self, checkpoint: &mut Checkpoint, iterators: &mut Iterators) {
        for _ in 0..50 {
            match self.poll(checkpoint, iterators).await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "stream not drained");
                    break;
                }
            }
        }
    }

    /// One GetRecords per open shard, the shards side by side (as Lambda
    /// reads them; within a shard, one batch after another, in order);
    /// true if any returned records.
    async fn poll(&self, checkpoint: &mut Checkpoint, iterators: &mut Iterators) -> Result<bool> {
        // Shards change every few hours in AWS: describe the stream now and then, not every poll.
        if iterators
            .described
            .is_none_or(|at| at.elapsed() > DESCRIBE_EVERY)
        {
            iterators.shards = self.shards().await?;
            iterators.described = Some(Instant::now());
        }
        let shards = iterators.shards.clone();
        let mut readable = Vec::new();
        for shard in &shards {
            let Some(id) = shard.shard_id() else { continue };
            if checkpoint.finished.contains(id) {
                continue;
            }
            // A child shard waits until its parent is read to its end.
            if let Some(parent) = shard.parent_shard_id()
                && shards.iter().any(|s| s.shard_id() == Some(parent))
                && !checkpoint.finished.contains(parent)
            {
                continue;
            }
            let iterator = match iterators.by_shard.get(id) {
                Some(it) => it.clone(),
                None => self.iterator(id, checkpoint.published.get(id)).await?,
            };
            readable.push((id.to_owned(), iterator));
        }
        let batches = futures::future::join_all(
            readable
                .iter()
                .map(|(_, iterator)| self.read_and_publish(iterator)),
        )
        .await;
        let mut busy = false;
        let mut held = false;
        for ((id, _), batch) in readable.into_iter().zip(batches) {
            // One shard's failed read leaves the others' published batches
            // to be checkpointed; that shard is read again from its checkpoint.
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    warn!(shard = %id, error = %format!("{e:#}"), "stream shard not read");
                    iterators.by_shard.remove(&id);
                    held = true;
                    continue;
                }
            };
            match batch.published {
                Ok(_) => {
                    if let Some(last) = batch.last {
                        checkpoint.published.insert(id.clone(), last);
                        busy = true;
                    }
                    match batch.next {
                        Some(next) => {
                            iterators.by_shard.insert(id.clone(), next);
                        }
                        None => {
                            checkpoint.finished.insert(id.clone());
                            iterators.by_shard.remove(&id);
                            // A closed shard has children to find.
                            iterators.described = None;
                        }
                    }
                    if !batch.sequences.is_empty() || !iterators.by_shard.contains_key(&id) {
                        self.save(checkpoint);
                    }
                }
                Err(unpublished) => {
                    // Read again from the first change not published, after a pause.
                    debug!(%unpublished, "stream position held");
                    if let Some(before) = batch
                        .sequences
                        .iter()
                        .take_while(|s| **s != unpublished.sequence)
                        .last()
                    {
                        checkpoint.published.insert(id.clone(), before.clone());
                        self.save(checkpoint);
                    }
                    iterators.by_shard.remove(&id);
                    held = true;
                }
            }
        }
        if held {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(busy)
    }

    /// One GetRecords from `iterator`, its task changes handed to the publisher.
    async fn read_and_publish(&self, iterator: &str) -> Result<ShardBatch> {
        let out = self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(BATCH)
            .send()
            .await
            .context("GetRecords")?;
        let mut records: Vec<StreamRecord> = out
            .records
            .unwrap_or_default()
            .into_iter()
            .filter_map(StreamRecord::from_streams_api)
            .collect();
        let last = records.last().map(|r| r.sequence.clone());
        // As the template's stream filter does: only task writes reach the
        // publisher; other items invoke nothing.
        records.retain(StreamRecord::is_task_write);
        let started = Instant::now();
        let published = self.publisher.publish(&task_changes(&records)).await;
        if !records.is_empty() {
            self.invocations
                .record("publisher", records.len(), started.elapsed());
        }
        Ok(ShardBatch {
            last,
            sequences: records.iter().map(|r| r.sequence.clone()).collect(),
            next: out.next_shard_iterator,
            published: published.map(|_| ()),
        })
    }

    async fn shards(&self) -> Result<Vec<Shard>> {
        let mut shards = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start)
                .send()
                .await
                .context("DescribeStream")?;
            let description = out.stream_description.context("no stream description")?;
            start = description.last_evaluated_shard_id.clone();
            shards.extend(description.shards.unwrap_or_default());
            if start.is_none() {
                return Ok(shards);
            }
        }
    }

    async fn iterator(&self, shard: &str, after: Option<&String>) -> Result<String> {
        let request = self
            .streams
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard);
        let request = match after {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        request
            .send()
            .await
            .context("GetShardIterator")?
            .shard_iterator
            .context("no shard iterator")
    }

    fn load(&self) -> Checkpoint {
        self.checkpoint
            .as_ref()
            .and_then(|path| std::fs::read(path).ok())
            .and_then(|bytes| serde_json::from_slice::<Checkpoint>(&bytes).ok())
            .filter(|c| c.stream_arn == self.stream_arn)
            .unwrap_or_else(|| Checkpoint {
                stream_arn: self.stream_arn.clone(),
                ..Checkpoint::default()
            })
    }

    fn save(&self, checkpoint: &Checkpoint) {
        let Some(path) = &self.checkpoint else { return };
        // Written whole, then renamed: a crash leaves the old file or the new one.
        let temporary = path.with_extension("tmp");
        let written = serde_json::to_vec(checkpoint)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&temporary, bytes))
            .and_then(|()| std::fs::rename(&temporary, path));
        if let Err(e) = written {
            warn!(path = %path.display(), error = %e, "stream checkpoint not saved");
        }
    }
}
