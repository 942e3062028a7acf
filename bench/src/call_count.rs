//! Counts the AWS API calls a run makes, by operation, by wrapping the SDK's
//! HTTP client: every client built from the wrapped config goes through it.
//! It also reads the few request fields the bill needs: whether a read is
//! strongly consistent, how many events a PutEvents carries and their size,
//! which items a transaction writes (their write units count twice).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use serde_json::Value;

/// What a run asked of AWS.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    /// Calls by operation name (`PutItem`, `SendMessageBatch`, …).
    pub calls: BTreeMap<String, u64>,
    /// Calls by service (`DynamoDB`, `SQS`, `EventBridge`, `DynamoDBStreams`).
    pub by_service: BTreeMap<&'static str, u64>,
    /// DynamoDB reads: strongly consistent and eventually consistent ones
    /// (a BatchGetItem counts each key).
    pub consistent_reads: u64,
    pub eventual_reads: u64,
    /// Events put on the bus, and their 64 KB chunks.
    pub events: u64,
    pub event_chunks: u64,
    /// SQS requests counted in 64 KB chunks of payload.
    pub sqs_requests: u64,
    /// (PK, SK) of every item written inside a transaction.
    pub transactional_writes: Vec<(String, String)>,
}

#[derive(Debug, Default, Clone)]
pub struct Calls(Arc<Mutex<Usage>>);

impl Calls {
    pub fn snapshot(&self) -> Usage {
        self.0.lock().map(|u| u.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut u) = self.0.lock() {
            *u = Usage::default();
        }
    }

    fn observe(&self, target: &str, body: Option<&[u8]>) {
        let (prefix, operation) = target.rsplit_once('.').unwrap_or(("", target));
        let service = match prefix {
            p if p.starts_with("DynamoDBStreams") => "DynamoDBStreams",
            p if p.starts_with("DynamoDB") => "DynamoDB",
            p if p.starts_with("AmazonSQS") => "SQS",
            p if p.starts_with("AWSEvents") => "EventBridge",
            _ => "other",
        };
        let Ok(mut u) = self.0.lock() else { return };
        *u.calls.entry(operation.to_owned()).or_default() += 1;
        *u.by_service.entry(service).or_default() += 1;
        let json = || body.and_then(|b| serde_json::from_slice::<Value>(b).ok());
        let chunks = |bytes: usize| (bytes.max(1) as u64).div_ceil(64 * 1024);
        match (service, operation) {
            ("SQS", _) => u.sqs_requests += chunks(body.map_or(0, <[u8]>::len)),
            ("DynamoDB", "GetItem" | "Query" | "Scan") => {
                if json().is_some_and(|b| b["ConsistentRead"] == Value::Bool(true)) {
                    u.consistent_reads += 1;
                } else {
                    u.eventual_reads += 1;
                }
            }
            ("DynamoDB", "BatchGetItem") => {
                for (_, request) in json()
                    .and_then(|b| b["RequestItems"].as_object().cloned())
                    .unwrap_or_default()
                {
                    let keys = request["Keys"].as_array().map_or(0, Vec::len) as u64;
                    if request["ConsistentRead"] == Value::Bool(true) {
                        u.consistent_reads += keys;
                    } else {
                        u.eventual_reads += keys;
                    }
                }
            }
            ("DynamoDB", "TransactWriteItems") => {
                for item in json()
                    .and_then(|b| b["TransactItems"].as_array().cloned())
                    .unwrap_or_default()
                {
                    let key = ["Put", "Update", "Delete"].iter().find_map(|kind| {
                        let written = &item[kind];
                        let key = if *kind == "Put" {
                            &written["Item"]
                        } else {
                            &written["Key"]
                        };
                        Some((
                            key["PK"]["S"].as_str()?.to_owned(),
                            key["SK"]["S"].as_str()?.to_owned(),
                        ))
                    });
                    u.transactional_writes.extend(key);
                }
            }
            ("EventBridge", "PutEvents") => {
                for entry in json()
                    .and_then(|b| b["Entries"].as_array().cloned())
                    .unwrap_or_default()
                {
                    u.events += 1;
                    u.event_chunks += chunks(entry.to_string().len());
                }
            }
            _ => {}
        }
    }
}

#[derive(Debug)]
struct CountingClient {
    inner: SharedHttpClient,
    calls: Calls,
}

#[derive(Debug)]
struct CountingConnector {
    inner: SharedHttpConnector,
    calls: Calls,
}

impl HttpClient for CountingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CountingConnector {
            inner: self.inner.http_connector(settings, components),
            calls: self.calls.clone(),
        })
    }
}

impl HttpConnector for CountingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // JSON-protocol services name the operation in X-Amz-Target ("DynamoDB_20120810.PutItem").
        let target = request
            .headers()
            .get("x-amz-target")
            .unwrap_or("other")
            .to_owned();
        self.calls.observe(&target, request.body().bytes());
        self.inner.call(request)
    }
}

/// `sdk` with every call counted in the returned `Calls`.
pub fn counting(sdk: &SdkConfig) -> (SdkConfig, Calls) {
    let calls = Calls::default();
    // The emulator speaks plain HTTP; this bench never talks to AWS itself.
    let inner = sdk
        .http_client()
        .unwrap_or_else(|| aws_smithy_http_client::Builder::new().build_http());
    let wrapped = SharedHttpClient::new(CountingClient {
        inner,
        calls: calls.clone(),
    });
    (sdk.to_builder().http_client(wrapped).build(), calls)
}
