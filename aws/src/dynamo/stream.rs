//! The table's change stream, read as task changes: from a Lambda event
//! (DynamoDB JSON) and from the DynamoDB Streams API (the local runner).
//! Items that are not tasks (definitions, counters, slots) are skipped.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodbstreams::types::AttributeValue as StreamValue;
use base64::Engine;
use serde_json::Value;

use super::attributes::{Item, get_s};
use super::keys::{GSI4PK, ITEM_TYPE, TASK_SK};
use super::task_item::task_from_item;
use tel_core::domain::SearchEntries;
use tel_core::ports::{StoreError, TaskChange};

/// One record of the stream, before it is read as a task change.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    pub sequence: String,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

impl StreamRecord {
    /// The task change this record carries; `None` for other items and for
    /// deletions (a deleted task announces nothing).
    pub fn task_change(&self) -> Option<Result<TaskChange, StoreError>> {
        if !self.is_task_write() {
            return None;
        }
        let new = self.new.as_ref()?;
        let previous_version = self
            .old
            .as_ref()
            .and_then(|old| old.get("version"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        // Only a task that was on a view's shelf (a key of the due index) had entries.
        let previously_filed = match self.old.as_ref().filter(|old| old.contains_key(GSI4PK)) {
            Some(old) => match task_from_item(old) {
                Ok(old) => SearchEntries::of(&old),
                Err(e) => return Some(Err(e)),
            },
            None => None,
        };
        Some(task_from_item(new).map(|task| TaskChange {
            sequence: self.sequence.clone(),
            previous_version,
            task,
            previously_filed,
        }))
    }

    /// Whether it writes a task item: what the publisher's stream filter
    /// (`itemType` `task` in the new image) lets through.
    pub fn is_task_write(&self) -> bool {
        self.new.as_ref().is_some_and(|new| {
            get_s(new, ITEM_TYPE) == Some("task") && get_s(new, "SK") == Some(TASK_SK)
        })
    }

    /// The written item's key, `PK|SK`.
    pub fn key(&self) -> Option<String> {
        Some(format!(
            "{}|{}",
            self.partition_key()?,
            get_s(self.item()?, "SK")?
        ))
    }

    /// The written item's partition key: every write of a task is under one,
    /// which is how Lambda keeps a task's changes in order across the
    /// batches it takes from a shard at once.
    pub fn partition_key(&self) -> Option<&str> {
        get_s(self.item()?, "PK")
    }

    fn item(&self) -> Option<&Item> {
        self.new.as_ref().or(self.old.as_ref())
    }

    /// A record of a Lambda event from the stream (`Records[].dynamodb`).
    pub fn from_lambda(dynamodb: &Value) -> Result<Self, StoreError> {
        let image = |name: &str| -> Result<Option<Item>, StoreError> {
            match dynamodb.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(map)) => map
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), from_dynamo_json(v)?)))
                    .collect::<Result<Item, StoreError>>()
                    .map(Some),
                Some(other) => Err(StoreError::Corrupt(format!("{name} is not a map: {other}"))),
            }
        };
        Ok(Self {
            sequence: dynamodb
                .get("SequenceNumber")
                .and_then(Value::as_str)
                .ok_or_else(|| StoreError::Corrupt("stream record without SequenceNumber".into()))?
                .to_owned(),
            old: image("OldImage")?,
            new: image("NewImage")?,
        })
    }

    /// A record from the DynamoDB Streams API.
    pub fn from_streams_api(record: aws_sdk_dynamodbstreams::types::Record) -> Option<Self> {
        let change = record.dynamodb?;
        let convert = |image: Option<HashMap<String, StreamValue>>| {
            image.map(|m| {
                m.into_iter()
                    .map(|(k, v)| (k, from_stream_value(v)))
                    .collect()
            })
        };
        Some(Self {
            sequence: change.sequence_number?,
            old: convert(change.old_image),
            new: convert(change.new_image),
        })
    }
}

/// An attribute in DynamoDB JSON (`{"S": "…"}`, `{"M": {…}}`, …).
pub fn from_dynamo_json(value: &Value) -> Result<AttributeValue, StoreError> {
    let bad = || StoreError::Corrupt(format!("not a DynamoDB attribute: {value}"));
    let (kind, inner) = value
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
        .ok_or_else(bad)?;
    let text = |v: &Value| v.as_str().map(str::to_owned).ok_or_else(bad);
    let texts = |v: &Value| -> Result<Vec<String>, StoreError> {
        v.as_array().ok_or_else(bad)?.iter().map(text).collect()
    };
    let blob = |v: &Value| -> Result<Blob, StoreError> {
        base64::engine::general_purpose::STANDARD
            .decode(text(v)?)
            .map(Blob::new)
            .map_err(|_| bad())
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(text(inner)?),
        "N" => AttributeValue::N(text(inner)?),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or_else(bad)?),
        "NULL" => AttributeValue::Null(true),
        "B" => AttributeValue::B(blob(inner)?),
        "SS" => AttributeValue::Ss(texts(inner)?),
        "NS" => AttributeValue::Ns(texts(inner)?),
        "BS" => AttributeValue::Bs(
            inner
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(blob)
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(from_dynamo_json)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(
            inner
                .as_object()
                .ok_or_else(bad)?
                .iter()
                .map(|(k, v)| Ok((k.clone(), from_dynamo_json(v)?)))
                .collect::<Result<_, StoreError>>()?,
        ),
        _ => return Err(bad()),
    })
}

/// The Streams API's attribute type as the DynamoDB API's (the same shape).
pub fn from_stream_value(value: StreamValue) -> AttributeValue {
    match value {
        StreamValue::S(s) => AttributeValue::S(s),
        StreamValue::N(n) => AttributeValue::N(n),
        StreamValue::Bool(b) => AttributeValue::Bool(b),
        StreamValue::B(b) => AttributeValue::B(Blob::new(b.into_inner())),
        StreamValue::Ss(v) => AttributeValue::Ss(v),
        StreamValue::Ns(v) => AttributeValue::Ns(v),
        StreamValue::Bs(v) => {
            AttributeValue::Bs(v.into_iter().map(|b| Blob::new(b.into_inner())).collect())
        }
        StreamValue::L(v) => AttributeValue::L(v.into_iter().map(from_stream_value).collect()),
        StreamValue::M(m) => AttributeValue::M(
            m.into_iter()
                .map(|(k, v)| (k, from_stream_value(v)))
                .collect(),
        ),
        // Null, and anything a newer SDK adds.
        _ => AttributeValue::Null(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dynamo_json_reads_every_type() {
        let value = json!({ "M": {
            "s": { "S": "x" }, "n": { "N": "1.5" }, "b": { "BOOL": true }, "z": { "NULL": true },
            "l": { "L": [{ "S": "a" }, { "N": "2" }] }, "ss": { "SS": ["a", "b"] },
            "bin": { "B": "aGk=" }
        }});
        let AttributeValue::M(map) = from_dynamo_json(&value).unwrap() else {
            panic!("a map")
        };
        assert_eq!(map["s"], AttributeValue::S("x".into()));
        assert_eq!(map["n"], AttributeValue::N("1.5".into()));
        assert_eq!(map["b"], AttributeValue::Bool(true));
        assert_eq!(map["bin"], AttributeValue::B(Blob::new(b"hi".to_vec())));
        assert!(matches!(&map["l"], AttributeValue::L(items) if items.len() == 2));
        assert!(from_dynamo_json(&json!({ "S": 1 })).is_err());
        assert!(from_dynamo_json(&json!({ "S": "a", "N": "1" })).is_err());
    }

    #[test]
    fn records_of_other_items_and_deletions_carry_no_task_change() {
        let counter: Item = [
            ("PK".to_owned(), AttributeValue::S("COUNTER#x".into())),
            ("SK".to_owned(), AttributeValue::S("COUNTER".into())),
            ("itemType".to_owned(), AttributeValue::S("counter".into())),
        ]
        .into();
        let record = StreamRecord {
            sequence: "1".into(),
            old: None,
            new: Some(counter.clone()),
        };
        assert!(record.task_change().is_none());
        let deleted = StreamRecord {
            sequence: "2".into(),
            old: Some(counter),
            new: None,
        };
        assert!(deleted.task_change().is_none());
    }
}
