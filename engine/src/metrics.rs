//! Metrics in CloudWatch Embedded Metric Format: one JSON line per record on
//! stdout, which CloudWatch Logs turns into metrics. Dimensions stay
//! low-cardinality (task type, implementation, error code, definition,
//! queue, function): never a task or workflow id.

use std::sync::Mutex;

use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "tel";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Milliseconds,
    Count,
    Megabytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Milliseconds => "Milliseconds",
            Unit::Count => "Count",
            Unit::Megabytes => "Megabytes",
        }
    }
}

/// Where EMF lines go.
pub trait MetricSink: Send + Sync {
    fn write(&self, line: String);
}

impl<T: MetricSink + ?Sized> MetricSink for std::sync::Arc<T> {
    fn write(&self, line: String) {
        (**self).write(line)
    }
}

/// Standard output: what Lambda ships to CloudWatch Logs.
pub struct Stdout;

impl MetricSink for Stdout {
    fn write(&self, line: String) {
        println!("{line}");
    }
}

/// Appends lines to a file: the local stack, whose stdout shows lifecycle events.
pub struct AppendFile(Mutex<std::fs::File>);

impl AppendFile {
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self(Mutex::new(file)))
    }
}

impl MetricSink for AppendFile {
    fn write(&self, line: String) {
        use std::io::Write;
        if let Ok(mut file) = self.0.lock() {
            // A metric lost to a full disk must not stop a task.
            let _ = writeln!(file, "{line}");
        }
    }
}

/// Keeps lines in memory (tests, `tel stats`).
#[derive(Default)]
pub struct Recorded(Mutex<Vec<String>>);

impl Recorded {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl MetricSink for Recorded {
    fn write(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }
}

/// Discards everything (benchmarks of the handlers alone).
pub struct Discard;

impl MetricSink for Discard {
    fn write(&self, _: String) {}
}

pub struct Metrics {
    sink: Box<dyn MetricSink>,
}

impl Metrics {
    pub fn new(sink: impl MetricSink + 'static) -> Self {
        Self {
            sink: Box::new(sink),
        }
    }

    /// One EMF record: `values` measured under one set of `dimensions`.
    pub fn put(&self, dimensions: &[(&str, &str)], values: &[(&str, f64, Unit)]) {
        self.sink.write(emf(
            dimensions,
            values,
            chrono::Utc::now().timestamp_millis(),
        ));
    }
}

pub fn emf(
    dimensions: &[(&str, &str)],
    values: &[(&str, f64, Unit)],
    timestamp_millis: i64,
) -> String {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_millis,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                "Metrics": values.iter().map(|(name, _, unit)| json!({ "Name": name, "Unit": unit.as_str() })).collect::<Vec<_>>(),
            }],
        }),
    );
    for (key, value) in dimensions {
        root.insert((*key).to_owned(), Value::String((*value).to_owned()));
    }
    for (name, value, _) in values {
        root.insert((*name).to_owned(), json!(value));
    }
    Value::Object(root).to_string()
}

/// The process's peak resident memory so far, from the kernel (Linux).
pub fn memory_high_water_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_valid_emf() {
        let line = emf(
            &[("TaskType", "automated")],
            &[("ExecutionTime", 12.5, Unit::Milliseconds)],
            1_700_000_000_000,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "tel");
        assert_eq!(directive["Dimensions"], json!([["TaskType"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{ "Name": "ExecutionTime", "Unit": "Milliseconds" }])
        );
        assert_eq!(v["TaskType"], "automated");
        assert_eq!(v["ExecutionTime"], 12.5);
    }

    #[test]
    fn a_metrics_file_gains_one_line_per_record_across_openings() {
        let path = std::env::temp_dir().join(format!("tel-metrics-{}.log", uuid::Uuid::new_v4()));
        Metrics::new(AppendFile::open(&path).unwrap())
            .put(&[("Queue", "a")], &[("QueueDepth", 1.0, Unit::Count)]);
        Metrics::new(AppendFile::open(&path).unwrap())
            .put(&[("Queue", "b")], &[("QueueDepth", 2.0, Unit::Count)]);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let queues: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap()["Queue"].clone())
            .collect();
        assert_eq!(queues, vec![json!("a"), json!("b")]);
    }

    #[test]
    fn the_high_water_mark_is_readable_here() {
        assert!(memory_high_water_mb().is_some_and(|mb| mb > 1.0));
    }
}
