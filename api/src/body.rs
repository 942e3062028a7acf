//! Request bodies and query strings parsed into problems, not plain-text rejections.

use axum::body::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::problem::Problem;
use tel_core::domain::TaskInstanceId;

pub fn json(bytes: &Bytes) -> Result<Value, Problem> {
    if bytes.is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Problem::bad_request(format!("the body is not JSON: {e}")))
}

pub fn typed<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Problem> {
    serde_path_to_error::deserialize(json(bytes)?)
        .map_err(|e| Problem::bad_request(format!("{}: {}", e.path(), e.inner())))
}

pub fn task_id(text: &str) -> Result<TaskInstanceId, Problem> {
    TaskInstanceId::parse(text).map_err(|_| Problem::not_found(format!("no task {text}")))
}

/// `a=1&b=2` → pairs, percent-decoded.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A page size from the query: a number from 1 to `max`.
pub fn limit(value: &str, max: i32) -> Result<i32, Problem> {
    value
        .parse::<i32>()
        .ok()
        .filter(|l| (1..=max).contains(l))
        .ok_or_else(|| Problem::bad_request(format!("limit must be a number from 1 to {max}")))
}
