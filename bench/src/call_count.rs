//! Counts the AWS API calls a run makes, by operation, by wrapping the SDK's
//! HTTP client: every client built from the wrapped config goes through it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

#[derive(Debug, Default, Clone)]
pub struct Calls(Arc<Mutex<BTreeMap<String, u64>>>);

impl Calls {
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
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
        let operation = request
            .headers()
            .get("x-amz-target")
            .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned())
            .unwrap_or_else(|| "other".to_owned());
        if let Ok(mut m) = self.calls.0.lock() {
            *m.entry(operation).or_default() += 1;
        }
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
