//! Chart figures in the table. Each definition's counts for a minute are one
//! item, `FIGURES#<definition>` / minute, that the publisher adds to with
//! one `UpdateItem` (`ADD`) per definition and minute of a stream batch; the
//! queues' depths for a minute are one item under `QUEUE_DEPTHS`, put by the
//! sweeper. Both expire after `FIGURE_DAYS` (+1, so a week's chart is whole).
//! A minute's item stays small (a few counters, the error codes seen and the
//! histogram buckets used): one write unit per update.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use futures::future::try_join_all;

use super::attributes::{Item, get_s, n, s};
use super::errors::dynamo_error;
use super::keys::*;
use super::query_all::query_all;
use super::task_store::DynamoTaskStore;
use tel_core::domain::figures::{Counts, Depth, DepthSample, FigureKey};
use tel_core::domain::sortable;
use tel_core::ports::{FIGURE_DAYS, FigureStore, StoreError};

const DEPTHS_PK: &str = "QUEUE_DEPTHS";
const CREATED: &str = "created";
const COMPLETED: &str = "completed";
const FAILED: &str = "failed";
const CANCELLED: &str = "cancelled";
/// Prefixes of the attributes that hold an error code's count, a duration
/// bucket's count, and a queue's waiting and in-flight messages.
const ERROR: &str = "e.";
const DURATION: &str = "d.";
const WAITING: &str = "w.";
const IN_FLIGHT: &str = "f.";

fn figures_pk(definition: &str) -> String {
    format!("FIGURES#{definition}")
}

fn expiry(minute: DateTime<Utc>) -> i64 {
    (minute + Duration::days(FIGURE_DAYS + 1)).timestamp()
}

fn minute_of_sk(item: &Item) -> Result<DateTime<Utc>, StoreError> {
    get_s(item, SK)
        .and_then(|sk| sk.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| StoreError::Corrupt("a figures item without its minute".into()))
}

fn number(item: &Item, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The counters an item holds under `prefix`, by what follows it.
fn prefixed<'a>(item: &'a Item, prefix: &'a str) -> impl Iterator<Item = (&'a str, u64)> + 'a {
    item.iter().filter_map(move |(name, value)| {
        let key = name.strip_prefix(prefix)?;
        Some((key, value.as_n().ok()?.parse().ok()?))
    })
}

fn counts_of(item: &Item) -> Counts {
    Counts {
        created: number(item, CREATED),
        completed: number(item, COMPLETED),
        failed: number(item, FAILED),
        cancelled: number(item, CANCELLED),
        errors: prefixed(item, ERROR)
            .map(|(code, count)| (code.to_owned(), count))
            .collect(),
        durations: prefixed(item, DURATION)
            .filter_map(|(bucket, count)| Some((bucket.parse().ok()?, count)))
            .collect(),
    }
}

/// Every non-zero counter of `counts` as (attribute, amount).
fn additions(counts: &Counts) -> Vec<(String, u64)> {
    let plain = [
        (CREATED, counts.created),
        (COMPLETED, counts.completed),
        (FAILED, counts.failed),
        (CANCELLED, counts.cancelled),
    ];
    plain
        .into_iter()
        .map(|(name, amount)| (name.to_owned(), amount))
        .chain(
            counts
                .errors
                .iter()
                .map(|(code, amount)| (format!("{ERROR}{code}"), *amount)),
        )
        .chain(
            counts
                .durations
                .iter()
                .map(|(bucket, amount)| (format!("{DURATION}{bucket}"), *amount)),
        )
        .filter(|(_, amount)| *amount > 0)
        .collect()
}

impl DynamoTaskStore {
    /// The items of partition `pk` for the minutes in `from..until`.
    async fn minutes(
        &self,
        pk: String,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :until")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(sortable::time(from)))
            .expression_attribute_values(
                ":until",
                s(sortable::time(until - Duration::milliseconds(1))),
            );
        query_all(query, self.table()).await
    }

    async fn add_minute(&self, key: &FigureKey, counts: &Counts) -> Result<(), StoreError> {
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(figures_pk(&key.definition)))
            .key(SK, s(sortable::time(key.minute)))
            .expression_attribute_names("#type", ITEM_TYPE)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":type", s("figures"))
            .expression_attribute_values(":expires", n(expiry(key.minute)));
        let mut adds = Vec::new();
        // Placeholders: error codes are whatever a task reported.
        for (i, (attribute, amount)) in additions(counts).into_iter().enumerate() {
            adds.push(format!("#a{i} :a{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), attribute)
                .expression_attribute_values(format!(":a{i}"), n(amount));
        }
        if adds.is_empty() {
            return Ok(());
        }
        update
            .update_expression(format!(
                "SET #type = :type, #expires = if_not_exists(#expires, :expires) ADD {}",
                adds.join(", ")
            ))
            .send()
            .await
            .map_err(|e| dynamo_error("UpdateItem", self.table(), e))?;
        Ok(())
    }
}

#[async_trait]
impl FigureStore for DynamoTaskStore {
    async fn add_figures(&self, figures: &BTreeMap<FigureKey, Counts>) -> Result<(), StoreError> {
        try_join_all(
            figures
                .iter()
                .map(|(key, counts)| self.add_minute(key, counts)),
        )
        .await?;
        Ok(())
    }

    async fn figures(
        &self,
        definition: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, Counts)>, StoreError> {
        self.minutes(figures_pk(definition), from, until)
            .await?
            .iter()
            .map(|item| Ok((minute_of_sk(item)?, counts_of(item))))
            .collect()
    }

    async fn record_depths(&self, sample: &DepthSample) -> Result<(), StoreError> {
        let mut item = Item::from([
            (PK.to_owned(), s(DEPTHS_PK)),
            (SK.to_owned(), s(sortable::time(sample.minute))),
            (ITEM_TYPE.to_owned(), s("queueDepths")),
            (EXPIRES_AT.to_owned(), n(expiry(sample.minute))),
        ]);
        for (queue, depth) in &sample.queues {
            item.insert(format!("{WAITING}{queue}"), n(depth.waiting));
            item.insert(format!("{IN_FLIGHT}{queue}"), n(depth.in_flight));
        }
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", self.table(), e))?;
        Ok(())
    }

    async fn depths(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<DepthSample>, StoreError> {
        self.minutes(DEPTHS_PK.to_owned(), from, until)
            .await?
            .iter()
            .map(|item| {
                let mut queues: BTreeMap<String, Depth> = BTreeMap::new();
                for (queue, waiting) in prefixed(item, WAITING) {
                    queues.entry(queue.to_owned()).or_default().waiting = waiting;
                }
                for (queue, in_flight) in prefixed(item, IN_FLIGHT) {
                    queues.entry(queue.to_owned()).or_default().in_flight = in_flight;
                }
                Ok(DepthSample {
                    minute: minute_of_sk(item)?,
                    queues,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_counters_with_something_to_add_are_written() {
        let counts = Counts {
            completed: 2,
            errors: BTreeMap::from([("HTTP#503".into(), 1)]),
            durations: BTreeMap::from([(40, 2)]),
            ..Counts::default()
        };
        assert_eq!(
            additions(&counts),
            vec![
                ("completed".to_owned(), 2),
                ("e.HTTP#503".to_owned(), 1),
                ("d.40".to_owned(), 2)
            ]
        );
    }
}
