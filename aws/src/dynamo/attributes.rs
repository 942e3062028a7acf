//! Conversion between JSON and DynamoDB attribute values for our own records.
//! Free-form user JSON (input, output, context, errors) is stored as JSON
//! text instead: DynamoDB caps nesting at 32 levels and normalises numbers.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::{Map, Number, Value};

use tel_core::ports::StoreError;

pub type Item = HashMap<String, AttributeValue>;

pub fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(
            map.iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect(),
        ),
    }
}

pub fn from_attribute(attribute: &AttributeValue) -> Result<Value, StoreError> {
    Ok(match attribute {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => Value::Number(parse_number(n)?),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(items) => {
            Value::Array(items.iter().map(from_attribute).collect::<Result<_, _>>()?)
        }
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), from_attribute(v)?)))
                .collect::<Result<Map<_, _>, StoreError>>()?,
        ),
        other => {
            return Err(StoreError::Corrupt(format!(
                "unexpected attribute type {other:?}"
            )));
        }
    })
}

fn parse_number(text: &str) -> Result<Number, StoreError> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(i.into());
    }
    if let Ok(u) = text.parse::<u64>() {
        return Ok(u.into());
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| StoreError::Corrupt(format!("not a number: {text}")))
}

/// Turns a serialised record into an item. Fields named in `opaque` are
/// stored as JSON text; null fields are left out.
pub fn item_from_json(record: Value, opaque: &[&str]) -> Item {
    let Value::Object(fields) = record else {
        unreachable!("records serialise to JSON objects")
    };
    fields
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let attribute = if opaque.contains(&k.as_str()) {
                AttributeValue::S(v.to_string())
            } else {
                to_attribute(&v)
            };
            (k, attribute)
        })
        .collect()
}

/// The reverse of `item_from_json`, skipping the table's own key attributes.
pub fn json_from_item(item: &Item, opaque: &[&str], skip: &[&str]) -> Result<Value, StoreError> {
    let mut fields = Map::new();
    for (k, attribute) in item {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let value = match (opaque.contains(&k.as_str()), attribute) {
            (true, AttributeValue::S(text)) => serde_json::from_str(text)
                .map_err(|e| StoreError::Corrupt(format!("field {k} is not JSON: {e}")))?,
            _ => from_attribute(attribute)?,
        };
        fields.insert(k.clone(), value);
    }
    Ok(Value::Object(fields))
}

pub fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

pub fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|a| a.as_s().ok())
        .map(String::as_str)
}

/// Encodes a query's LastEvaluatedKey as an opaque cursor (its key attributes are all strings).
pub fn encode_cursor(key: &Item) -> String {
    let map: Map<String, Value> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), Value::String(s.clone()))))
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Value::Object(map).to_string())
}

pub fn decode_cursor(cursor: &str) -> Result<Item, StoreError> {
    let bad = || StoreError::InvalidCursor;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let Value::Object(map) = serde_json::from_slice(&bytes).map_err(|_| bad())? else {
        return Err(bad());
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(text) => Ok((k, AttributeValue::S(text))),
            _ => Err(bad()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_through_attributes() {
        let value = json!({ "a": [1, -2, 3.5, "x", null, true], "b": { "c": u64::MAX } });
        assert_eq!(from_attribute(&to_attribute(&value)).unwrap(), value);
    }

    #[test]
    fn opaque_fields_are_stored_as_text_and_nulls_dropped() {
        let record = json!({ "status": "QUEUED", "input": { "deep": [1, 2] }, "error": null });
        let item = item_from_json(record.clone(), &["input"]);
        assert_eq!(get_s(&item, "input"), Some(r#"{"deep":[1,2]}"#));
        assert!(!item.contains_key("error"));
        let back = json_from_item(&item, &["input"], &[]).unwrap();
        assert_eq!(
            back,
            json!({ "status": "QUEUED", "input": { "deep": [1, 2] } })
        );
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let key: Item = [("PK".to_owned(), s("TASK#1")), ("SK".to_owned(), s("TASK"))].into();
        assert_eq!(decode_cursor(&encode_cursor(&key)).unwrap(), key);
        assert!(decode_cursor("!!!").is_err());
    }
}
