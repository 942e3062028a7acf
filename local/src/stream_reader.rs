//! Plays Lambda's event source mapping for the table's change stream: reads
//! every shard in order through the DynamoDB Streams API, hands each batch to
//! the same publisher the Lambda function runs (up to the mapping's
//! `ParallelizationFactor` batches of a shard at once, split by partition
//! key: `stream_lanes`), and moves on only past what was published. Where
//! it got to is kept in a checkpoint file (when given), so a runner started
//! again after a crash resumes there: events published twice keep their
//! ids; none is skipped.

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
use super::provision::LocalStack;
use super::stream_lanes;
use tel_aws::dynamo::stream::StreamRecord;
use tel_engine::handlers::ChangePublisher;

/// Records per publisher invocation unless the stack says otherwise (the
/// template's `PublisherBatchSize`, Lambda's default for streams).
const BATCH: usize = 100;
/// GetRecords returns at most this many records.
const READ_MAX: usize = 1000;
/// Wait between polls of a shard with nothing new: from the first, doubling
/// while nothing comes, up to the last, which is Lambda's own pace (it polls
/// a shard four times a second): a completion waits no longer for its event
/// here than it would on AWS.
const IDLE_FIRST: Duration = Duration::from_millis(100);
const IDLE_MAX: Duration = Duration::from_millis(250);
/// Wait before a lane the bus refused is offered again.
const HELD_PAUSE: Duration = Duration::from_millis(500);

pub struct StreamReader {
    streams: Client,
    stream_arn: String,
    publisher: ChangePublisher,
    /// Where the position in each shard is kept between runs; in memory only without it.
    checkpoint: Option<PathBuf>,
    /// Where each invocation (a non-empty batch of task changes) is counted and timed.
    invocations: Arc<InvocationLog>,
    /// Records per publisher invocation (the template's `PublisherBatchSize`).
    batch: usize,
    /// Batches of one shard published at once (the template's
    /// `PublisherParallelization`, Lambda's `ParallelizationFactor`).
    parallelization: usize,
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

/// What one read of a shard came to once its lanes were offered to the bus.
struct ShardBatch {
    /// The last record read (task write or not): where the shard goes on from.
    last: Option<String>,
    /// The task changes' sequence numbers, in order.
    sequences: Vec<String>,
    next: Option<String>,
    /// What the refused lanes have left, each from its first change not
    /// published; empty when the bus took everything.
    left: Vec<Vec<StreamRecord>>,
}

/// What a shard's poll does.
enum Work {
    /// Read from this iterator (or the shard's iterator was refused).
    Read(Result<String>),
    /// Offer again what the bus refused.
    Held(ShardBatch),
}

/// What a poll of the stream came to.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// Some shard's records were published.
    moved: bool,
    /// Some changes wait for the next poll: the bus refused them, or a
    /// shard could not be read.
    held: bool,
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
            batch: BATCH,
            parallelization: 1,
        }
    }

    /// Publishes `batch` records per invocation and takes up to
    /// `parallelization` batches of a shard at once, as the template's stream
    /// mapping does (`PublisherBatchSize`, `PublisherParallelization`).
    pub fn batches(mut self, batch: usize, parallelization: usize) -> Self {
        self.batch = batch.max(1);
        self.parallelization = parallelization.clamp(1, 10);
        self
    }

    /// The batches of `stack`'s stream mapping, from its template parameters.
    pub fn batches_of(self, stack: &LocalStack) -> Self {
        let parameter = |name: &str, default: usize| {
            stack
                .parameters
                .get(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        self.batches(
            parameter("PublisherBatchSize", BATCH),
            parameter("PublisherParallelization", 1),
        )
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
        let mut held = BTreeMap::new();
        let mut idle = IDLE_FIRST;
        while !*shutdown.borrow() {
            let progress = match self.poll(&mut checkpoint, &mut iterators, &mut held).await {
                Ok(progress) => progress,
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "stream poll failed");
                    iterators = Iterators::default();
                    Progress {
                        moved: false,
                        held: true,
                    }
                }
            };
            if progress.held {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    _ = tokio::time::sleep(HELD_PAUSE) => {}
                }
            } else if progress.moved {
                idle = IDLE_FIRST;
            } else {
                // Nothing new, nothing held: every write so far is published.
                self.invocations.stream_caught_up();
                tokio::select! {
                    _ = shutdown.changed() => break,
                    _ = tokio::time::sleep(idle) => {}
                }
                idle = (idle * 2).min(IDLE_MAX);
            }
        }
        // The writers have stopped: publish what they wrote.
        self.drain(&mut checkpoint, &mut iterators, &mut held).await;
    }

    /// Publishes everything in the stream not yet published (from the
    /// checkpoint), then returns: for a caller that wrote without a runner.
    pub async fn publish_pending(self) {
        let mut checkpoint = self.load();
        self.drain(
            &mut checkpoint,
            &mut Iterators::default(),
            &mut BTreeMap::new(),
        )
        .await;
    }

    /// Polls while any shard moves (bounded, in case the bus is down: the
    /// checkpoint keeps the rest for the next run).
    async fn drain(
        &self,
        checkpoint: &mut Checkpoint,
        iterators: &mut Iterators,
        held: &mut BTreeMap<String, ShardBatch>,
    ) {
        for _ in 0..50 {
            match self.poll(checkpoint, iterators, held).await {
                Ok(Progress { moved: true, held }) => {
                    if held {
                        tokio::time::sleep(HELD_PAUSE).await;
                    }
                }
                Ok(Progress { moved: false, .. }) => break,
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "stream not drained");
                    break;
                }
            }
        }
    }

    /// One GetRecords per open shard, the shards side by side (as Lambda
    /// reads them; within a shard, one read after another, in order), each
    /// read published in lanes (`stream_lanes`). A shard whose lanes the bus
    /// refused offers what they have left before it is read further.
    async fn poll(
        &self,
        checkpoint: &mut Checkpoint,
        iterators: &mut Iterators,
        held: &mut BTreeMap<String, ShardBatch>,
    ) -> Result<Progress> {
        // Shards change every few hours in AWS: describe the stream now and then, not every poll.
        if iterators
            .described
            .is_none_or(|at| at.elapsed() > DESCRIBE_EVERY)
        {
            iterators.shards = self.shards().await?;
            iterators.described = Some(Instant::now());
        }
        let shards = iterators.shards.clone();
        // What the bus refused is offered again first, whatever the shard
        // list now says: held changes are never dropped while the runner runs.
        let mut work: Vec<(String, Work)> = std::mem::take(held)
            .into_iter()
            .map(|(id, batch)| (id, Work::Held(batch)))
            .collect();
        for shard in &shards {
            let Some(id) = shard.shard_id() else { continue };
            if checkpoint.finished.contains(id) || work.iter().any(|(held, _)| held == id) {
                continue;
            }
            // A child shard waits until its parent is read to its end.
            if let Some(parent) = shard.parent_shard_id()
                && shards.iter().any(|s| s.shard_id() == Some(parent))
                && !checkpoint.finished.contains(parent)
            {
                continue;
            }
            // A shard whose iterator is refused is that shard's failure,
            // like a failed read: the others' work goes on.
            let iterator = match iterators.by_shard.get(id) {
                Some(it) => Ok(it.clone()),
                None => self.iterator(id, checkpoint.published.get(id)).await,
            };
            work.push((id.to_owned(), Work::Read(iterator)));
        }
        let batches = futures::future::join_all(work.into_iter().map(|(id, work)| async move {
            let batch = match work {
                Work::Read(Ok(iterator)) => self.read_and_publish(&iterator).await,
                Work::Read(Err(e)) => Err(e),
                Work::Held(batch) => Ok(self.offer_again(batch).await),
            };
            (id, batch)
        }))
        .await;
        let mut progress = Progress::default();
        for (id, batch) in batches {
            // One shard's failed read leaves the others' published batches
            // to be checkpointed; that shard is read again from its checkpoint.
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    warn!(shard = %id, error = %format!("{e:#}"), "stream shard not read");
                    iterators.by_shard.remove(&id);
                    progress.held = true;
                    continue;
                }
            };
            if !batch.left.is_empty() {
                // Until its lanes are through, the shard's checkpoint stays
                // before its earliest change not published: a runner started
                // again publishes from there (the other lanes' events again,
                // with the same ids), and nothing is skipped.
                let earliest = batch
                    .left
                    .iter()
                    .filter_map(|lane| lane.first())
                    .filter_map(|first| batch.sequences.iter().position(|s| *s == first.sequence))
                    .min()
                    .unwrap_or(0);
                if let Some(before) = earliest.checked_sub(1) {
                    checkpoint
                        .published
                        .insert(id.clone(), batch.sequences[before].clone());
                    self.save(checkpoint);
                }
                debug!(shard = %id, lanes = batch.left.len(), "stream position held");
                iterators.by_shard.remove(&id);
                held.insert(id, batch);
                progress.held = true;
                continue;
            }
            if let Some(last) = &batch.last {
                checkpoint.published.insert(id.clone(), last.clone());
                progress.moved = true;
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
        Ok(progress)
    }

    /// One GetRecords from `iterator`, as many records as the shard's
    /// batches at once can take; its task changes published in lanes.
    async fn read_and_publish(&self, iterator: &str) -> Result<ShardBatch> {
        let limit = (self.batch * self.parallelization).min(READ_MAX);
        let out = self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(i32::try_from(limit).unwrap_or(100))
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
        let sequences = records.iter().map(|r| r.sequence.clone()).collect();
        // As many lanes as the read fills batches: a read that fits one
        // batch is one invocation, as it was before lanes.
        let lanes = records
            .len()
            .div_ceil(self.batch)
            .clamp(1, self.parallelization);
        let left = stream_lanes::publish(
            &self.publisher,
            &self.invocations,
            stream_lanes::split(records, lanes),
            self.batch,
        )
        .await;
        Ok(ShardBatch {
            last,
            sequences,
            next: out.next_shard_iterator,
            left,
        })
    }

    /// Offers the bus again what a held read's lanes have left.
    async fn offer_again(&self, mut batch: ShardBatch) -> ShardBatch {
        let left = std::mem::take(&mut batch.left);
        batch.left =
            stream_lanes::publish(&self.publisher, &self.invocations, left, self.batch).await;
        batch
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
