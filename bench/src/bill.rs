//! The bill of one automated task on AWS, from what the local run measured:
//! DynamoDB write units from the real item sizes of every write (the table's
//! change stream holds each write's before and after images), index writes by
//! each index's keys and projection, read units by consistency, SQS requests,
//! EventBridge events, Lambda requests and GB-seconds at the template's batch
//! sizes and memory; priced with `prices`.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{ProjectionType, TableDescription};
use tel_aws::dynamo::stream::StreamRecord;
use tel_local::FunctionStats;

use crate::call_count::Usage;
use crate::prices::*;
use tel_aws::dynamo::attributes::Item;
use tel_aws::dynamo::item_size::{item_size, projected_size, write_units};

/// An index as the bill sees it: its keys, and what each entry carries.
#[derive(Debug, Clone)]
pub struct IndexShape {
    pub name: String,
    pub keys: Vec<String>,
    /// Attributes an entry holds (the table's keys, the index's, and the
    /// projected ones); `None` for ALL.
    pub attributes: Option<Vec<String>>,
}

pub fn index_shapes(table: &TableDescription) -> Vec<IndexShape> {
    let table_keys: Vec<String> = table
        .key_schema()
        .iter()
        .map(|k| k.attribute_name().to_owned())
        .collect();
    table
        .global_secondary_indexes()
        .iter()
        .map(|gsi| {
            let keys: Vec<String> = gsi
                .key_schema()
                .iter()
                .map(|k| k.attribute_name().to_owned())
                .collect();
            let projection = gsi.projection();
            let attributes = match projection.and_then(|p| p.projection_type()) {
                Some(ProjectionType::All) => None,
                _ => {
                    let mut attributes: Vec<String> =
                        table_keys.iter().chain(&keys).cloned().collect();
                    attributes.extend(
                        projection
                            .map(|p| p.non_key_attributes().to_vec())
                            .unwrap_or_default(),
                    );
                    Some(attributes)
                }
            };
            IndexShape {
                name: gsi.index_name().unwrap_or_default().to_owned(),
                keys,
                attributes,
            }
        })
        .collect()
}

fn entry_size(item: &Item, shape: &IndexShape) -> usize {
    match &shape.attributes {
        None => item_size(item),
        Some(attributes) => projected_size(item, attributes),
    }
}

fn in_index<'a>(item: Option<&'a Item>, shape: &IndexShape) -> Option<&'a Item> {
    item.filter(|i| shape.keys.iter().all(|k| i.contains_key(k)))
}

/// Write units one index pays for a table write: an entry put, deleted, or
/// (its keys changed) deleted and put; nothing when neither its keys nor
/// anything it projects changed.
pub fn index_write_units(old: Option<&Item>, new: Option<&Item>, shape: &IndexShape) -> u64 {
    match (in_index(old, shape), in_index(new, shape)) {
        (None, None) => 0,
        (None, Some(new)) => write_units(entry_size(new, shape)),
        (Some(old), None) => write_units(entry_size(old, shape)),
        (Some(old), Some(new)) => {
            let keys_moved = shape.keys.iter().any(|k| old.get(k) != new.get(k));
            let projected_changed = match &shape.attributes {
                None => old != new,
                Some(attributes) => attributes.iter().any(|a| old.get(a) != new.get(a)),
            };
            if keys_moved {
                write_units(entry_size(old, shape)) + write_units(entry_size(new, shape))
            } else if projected_changed {
                write_units(entry_size(new, shape))
            } else {
                0
            }
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct DynamoWrites {
    pub writes: u64,
    pub table_units: u64,
    pub index_units: BTreeMap<String, u64>,
    pub largest_item: usize,
    /// Item sizes of task writes, for the size table.
    pub task_item_sizes: Vec<usize>,
}

/// Write units of every write the stream holds, by AWS's rules: the larger of
/// the before and after images, in 1 KB units, twice inside a transaction.
pub fn price_writes(
    records: &[StreamRecord],
    indexes: &[IndexShape],
    transactional: &[(String, String)],
) -> DynamoWrites {
    let mut transactional: Vec<(String, String)> = transactional.to_vec();
    let mut out = DynamoWrites::default();
    for record in records {
        let (old, new) = (record.old.as_ref(), record.new.as_ref());
        let size = old.map_or(0, item_size).max(new.map_or(0, item_size));
        let key = old.or(new).map(|i| {
            let s = |name: &str| {
                i.get(name)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            (s("PK"), s("SK"))
        });
        let in_transaction = key
            .and_then(|k| transactional.iter().position(|t| *t == k))
            .map(|i| transactional.swap_remove(i))
            .is_some();
        out.writes += 1;
        out.table_units += write_units(size) * if in_transaction { 2 } else { 1 };
        out.largest_item = out.largest_item.max(size);
        if new.is_some_and(|n| {
            n.get("itemType")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|t| t == "task")
        }) {
            out.task_item_sizes.push(new.map_or(0, item_size));
        }
        for shape in indexes {
            *out.index_units.entry(shape.name.clone()).or_default() +=
                index_write_units(old, new, shape);
        }
    }
    out
}

/// How the template runs the functions in AWS (batch sizes and memory).
#[derive(Debug, Clone)]
pub struct Deployment {
    pub sqs_batch_size: f64,
    pub stream_batch_size: f64,
    /// Memory by function, MB.
    pub memory_mb: BTreeMap<String, f64>,
}

impl Deployment {
    /// Read off the template's parameter defaults and function memory.
    pub fn from_template() -> Self {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(tel_local::template::TEMPLATE_YAML).expect("template");
        let number = |v: &serde_yaml::Value| v.as_f64().or_else(|| v.as_u64().map(|n| n as f64));
        let default_memory = number(&doc["Globals"]["Function"]["MemorySize"]).unwrap_or(128.0);
        let parameter = |name: &str| number(&doc["Parameters"][name]["Default"]).unwrap_or(10.0);
        let mut memory_mb = BTreeMap::new();
        for (name, logical) in [
            ("router", "RouterFunction"),
            ("validator", "ValidatorFunction"),
            ("executor", "ExecutorFunction"),
            ("manual-assign", "ManualAssignFunction"),
            ("publisher", "PublisherFunction"),
        ] {
            let own = number(&doc["Resources"][logical]["Properties"]["MemorySize"]);
            memory_mb.insert(name.to_owned(), own.unwrap_or(default_memory));
        }
        Self {
            sqs_batch_size: parameter("BatchSize"),
            stream_batch_size: parameter("PublisherBatchSize"),
            memory_mb,
        }
    }
}

/// The calls the run made per task, as they would be on AWS: the handlers'
/// own calls as measured, but the polling the local runner does for Lambda
/// (receives that found nothing, stream reads every 100 ms) replaced by what
/// Lambda's event source mappings do under load: one receive and one delete
/// per batch of SQS messages, one stream read per batch of records.
pub fn calls_on_aws(
    usage: &Usage,
    invocations: &BTreeMap<&'static str, FunctionStats>,
    deployment: &Deployment,
    tasks: f64,
) -> BTreeMap<String, f64> {
    const POLLING: [&str; 5] = [
        "ReceiveMessage",
        "DeleteMessageBatch",
        "GetRecords",
        "GetShardIterator",
        "DescribeStream",
    ];
    let mut calls: BTreeMap<String, f64> = usage
        .calls
        .iter()
        .filter(|(op, _)| !POLLING.contains(&op.as_str()))
        .map(|(op, n)| (op.clone(), *n as f64 / tasks))
        .collect();
    let records = |f: &str| invocations.get(f).map_or(0, |s| s.records) as f64 / tasks;
    let sqs: f64 = ["router", "validator", "executor", "manual-assign"]
        .iter()
        .map(|f| records(f))
        .sum();
    calls.insert("ReceiveMessage".into(), sqs / deployment.sqs_batch_size);
    calls.insert("DeleteMessageBatch".into(), sqs / deployment.sqs_batch_size);
    calls.insert(
        "GetRecords".into(),
        records("publisher") / deployment.stream_batch_size,
    );
    calls
}

/// One task's bill, line by line, in units and dollars.
#[derive(Debug, Default)]
pub struct Bill {
    pub lines: Vec<(String, f64, f64)>,
}

impl Bill {
    fn add(&mut self, what: impl Into<String>, units: f64, price: f64) {
        self.lines.push((what.into(), units, units * price));
    }

    pub fn total(&self) -> f64 {
        self.lines.iter().map(|(_, _, dollars)| dollars).sum()
    }
}

/// Everything measured in a run, per completed task.
pub struct Measured<'a> {
    pub tasks: f64,
    pub usage: &'a Usage,
    pub writes: &'a DynamoWrites,
    pub invocations: &'a BTreeMap<&'static str, FunctionStats>,
}

pub fn bill(m: &Measured, deployment: &Deployment) -> Bill {
    let per = |n: u64| n as f64 / m.tasks;
    let mut bill = Bill::default();
    bill.add(
        "DynamoDB write units, table",
        per(m.writes.table_units),
        DYNAMODB_WRITE_UNIT,
    );
    for (index, units) in &m.writes.index_units {
        bill.add(
            format!("DynamoDB write units, index {index}"),
            per(*units),
            DYNAMODB_WRITE_UNIT,
        );
    }
    // Every read here returns at most 4 KB (items stay under 2 KB): one unit
    // strongly consistent, half a unit eventually consistent.
    bill.add(
        "DynamoDB read units",
        per(m.usage.consistent_reads) + per(m.usage.eventual_reads) / 2.0,
        DYNAMODB_READ_UNIT,
    );
    let sqs_records: u64 = ["router", "validator", "executor", "manual-assign"]
        .iter()
        .filter_map(|f| m.invocations.get(f))
        .map(|s| s.records)
        .sum();
    let calls = |name: &str| m.usage.calls.get(name).copied().unwrap_or(0);
    // Sends and the executor's visibility changes, as the handlers made them.
    let sends = per(calls("SendMessage")
        + calls("SendMessageBatch")
        + calls("ChangeMessageVisibilityBatch"));
    // Lambda's event source mapping receives and deletes in batches.
    let receive_and_delete = 2.0 * per(sqs_records) / deployment.sqs_batch_size;
    bill.add(
        "SQS requests (sends, visibility changes; receives + deletes in batches)",
        sends + receive_and_delete,
        SQS_REQUEST,
    );
    bill.add(
        "EventBridge events (64 KB chunks)",
        per(m.usage.event_chunks),
        EVENTBRIDGE_EVENT,
    );
    bill.add(
        "DynamoDB Streams reads (by Lambda: free)",
        0.0,
        DYNAMODB_STREAM_READ_BY_LAMBDA,
    );
    let mut requests = 0.0;
    let mut gb_seconds = 0.0;
    for (function, stats) in m.invocations {
        if stats.invocations == 0 {
            continue;
        }
        let batch = if *function == "publisher" {
            deployment.stream_batch_size
        } else {
            deployment.sqs_batch_size
        };
        let invocations = per(stats.records) / batch;
        // A batch's records run concurrently: an invocation lasts about as
        // long as the local ones did (measured on the emulator: an upper bound).
        let seconds = stats.busy.as_secs_f64() / stats.invocations as f64;
        let memory = deployment
            .memory_mb
            .get(*function)
            .copied()
            .unwrap_or(256.0)
            / 1024.0;
        requests += invocations;
        gb_seconds += invocations * seconds * memory;
    }
    bill.add("Lambda requests", requests, LAMBDA_REQUEST);
    bill.add(
        "Lambda GB-seconds (arm64)",
        gb_seconds,
        LAMBDA_ARM_GB_SECOND,
    );
    bill
}

/// Step Functions running the same one step (a Task state calling a Lambda
/// function that runs the same code), per step.
pub fn step_functions(function_seconds: f64) -> [(&'static str, f64); 2] {
    let lambda = LAMBDA_REQUEST + function_seconds.max(0.001) * 0.128 * LAMBDA_ARM_GB_SECOND;
    // Express bills its own duration in 100 ms steps, 64 MB at least.
    let express_seconds = (function_seconds * 10.0).ceil().max(1.0) / 10.0;
    [
        (
            "Step Functions Standard (1 state transition + the Lambda)",
            STEP_FUNCTIONS_STANDARD_TRANSITION + lambda,
        ),
        (
            "Step Functions Express (1 request, 64 MB + the Lambda)",
            STEP_FUNCTIONS_EXPRESS_REQUEST
                + express_seconds * 0.0625 * STEP_FUNCTIONS_EXPRESS_GB_SECOND
                + lambda,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::AttributeValue;

    fn item(pairs: &[(&str, &str)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), AttributeValue::S((*v).to_owned())))
            .collect()
    }

    #[test]
    fn index_writes_follow_keys_and_projection() {
        let keys_only = IndexShape {
            name: "deadlines".into(),
            keys: vec!["GSI3PK".into(), "GSI3SK".into()],
            attributes: Some(vec![
                "PK".into(),
                "SK".into(),
                "GSI3PK".into(),
                "GSI3SK".into(),
            ]),
        };
        let a = item(&[
            ("PK", "T"),
            ("SK", "TASK"),
            ("GSI3PK", "DUE#1"),
            ("GSI3SK", "1"),
            ("status", "CREATED"),
        ]);
        let mut b = a.clone();
        b.insert("status".into(), AttributeValue::S("RUNNING".into()));
        assert_eq!(index_write_units(None, Some(&a), &keys_only), 1, "put");
        assert_eq!(
            index_write_units(Some(&a), Some(&b), &keys_only),
            0,
            "nothing it holds changed"
        );
        let mut moved = b.clone();
        moved.insert("GSI3SK".into(), AttributeValue::S("2".into()));
        assert_eq!(
            index_write_units(Some(&b), Some(&moved), &keys_only),
            2,
            "delete + put"
        );
        let mut gone = moved.clone();
        gone.remove("GSI3SK");
        assert_eq!(
            index_write_units(Some(&moved), Some(&gone), &keys_only),
            1,
            "delete"
        );
        let all = IndexShape {
            attributes: None,
            ..keys_only
        };
        assert_eq!(
            index_write_units(Some(&a), Some(&b), &all),
            1,
            "a copy rewritten"
        );
    }
}
