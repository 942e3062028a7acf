//! HTTPS for the SDK's calls: one HTTP/1.1 client per process, reqwest
//! over rustls with ring, which every SDK client made from the process's
//! configuration shares (the HTTP integrations make reqwest clients of
//! their own, one per integration, on the same stack).
//!
//! Not the SDK's own client (`aws-smithy-http-client`): that one links
//! HTTP/2 (`h2`, 0.3 MB of every function binary) and a connection pool of
//! its own beside reqwest's, and no tel call uses HTTP/2 (DynamoDB, SQS,
//! EventBridge, S3, Step Functions and Lambda all speak HTTP/1.1). Not the
//! SDK's default either, whose aws-lc was 2 MB of every function's binary.
//!
//! What the SDK's client did and this one does too: proxies from the
//! environment (`HTTPS_PROXY`, `NO_PROXY`), the system's root certificates,
//! the SDK's connect and read timeouts, idle connections pooled, and errors
//! classified by their type (a timeout, I/O to retry, or neither) for the
//! SDK's retries. A client is made on the first request, not as each SDK
//! client is made: the certificates are not read at start-up.

use std::sync::{Mutex, Once};
use std::time::Duration;

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;

/// The client for a configuration (`clients::load_config`): every SDK
/// client made from it shares it, and its connections.
pub fn shared_https_client() -> SharedHttpClient {
    SharedHttpClient::new(SdkHttpClient::default())
}

/// Makes ring the process's rustls provider, which reqwest's clients (made
/// without one) take. Idempotent.
pub fn install_crypto_provider() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // An error means a provider is installed already: that one serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest client per pair of timeouts the SDK asks for (one, in
/// practice), each made when first asked for.
#[derive(Debug, Default)]
struct SdkHttpClient {
    clients: Mutex<Vec<(Timeouts, reqwest::Client)>>,
}

type Timeouts = (Option<Duration>, Option<Duration>);

impl SdkHttpClient {
    fn client(&self, timeouts: Timeouts) -> Result<reqwest::Client, reqwest::Error> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, client)) = clients.iter().find(|(own, _)| *own == timeouts) {
            return Ok(client.clone());
        }
        install_crypto_provider();
        let (connect, read) = timeouts;
        let mut builder = reqwest::Client::builder()
            // The SDK follows no redirects, and retries itself.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90));
        if let Some(connect) = connect {
            builder = builder.connect_timeout(connect);
        }
        if let Some(read) = read {
            builder = builder.read_timeout(read);
        }
        let client = builder.build()?;
        clients.push((timeouts, client.clone()));
        Ok(client)
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = (settings.connect_timeout(), settings.read_timeout());
        SharedHttpConnector::new(Connector(self.client(timeouts)))
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        Some(ConnectorMetadata::new("reqwest", None))
    }
}

/// One SDK client's connector: the shared reqwest client, or why it could
/// not be made (every request then fails with that).
#[derive(Debug)]
struct Connector(Result<reqwest::Client, reqwest::Error>);

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = match &self.0 {
            Ok(client) => client.clone(),
            Err(e) => {
                let error = format!("the HTTPS client could not be made: {e}");
                return HttpConnectorFuture::ready(Err(ConnectorError::other(error.into(), None)));
            }
        };
        let request = match request.try_into_http1x() {
            Ok(request) => request.map(reqwest::Body::wrap),
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let request = match reqwest::Request::try_from(request) {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        HttpConnectorFuture::new(async move {
            let response = client.execute(request).await.map_err(classified)?;
            let response = http::Response::from(response).map(SdkBody::from_body_1_x);
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// A failed call as the SDK's retry rules read it: by the error's type,
/// never its text, as the SDK's own client read hyper's errors. Without the
/// URL: an S3 object's key is not for logs.
fn classified(error: reqwest::Error) -> ConnectorError {
    let error = error.without_url();
    if error.is_timeout() {
        return ConnectorError::timeout(error.into());
    }
    if error.is_connect() {
        return ConnectorError::io(error.into());
    }
    if let Some(hyper) = source::<hyper::Error>(&error) {
        if hyper.is_timeout() {
            return ConnectorError::timeout(error.into());
        }
        if hyper.is_user() {
            return ConnectorError::user(error.into());
        }
        if hyper.is_closed() || hyper.is_canceled() || source::<std::io::Error>(hyper).is_some() {
            return ConnectorError::io(error.into());
        }
        // S3 sometimes closes a connection mid-answer: worth another try.
        if hyper.is_incomplete_message() {
            return ConnectorError::other(error.into(), Some(ErrorKind::TransientError));
        }
        // A malformed answer: not retried (a call that changes something
        // may have happened).
        return ConnectorError::other(error.into(), None);
    }
    if source::<std::io::Error>(&error).is_some() {
        return ConnectorError::io(error.into());
    }
    if error.is_builder() {
        return ConnectorError::user(error.into());
    }
    ConnectorError::other(error.into(), None)
}

/// The first error of type `E` in `error`'s chain.
fn source<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn connector(timeout: Duration) -> Connector {
        Connector(SdkHttpClient::default().client((Some(timeout), Some(timeout))))
    }

    fn get(url: &str) -> HttpRequest {
        let request = http::Request::builder()
            .uri(url)
            .body(SdkBody::empty())
            .unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    /// The connector's error for a GET of `at`.
    async fn failure(at: &str, timeout: Duration) -> ConnectorError {
        connector(timeout).call(get(at)).await.unwrap_err()
    }

    /// A server that answers one request with `answer`, or with nothing.
    async fn server(answer: Option<&'static str>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            match answer {
                Some(answer) => socket.write_all(answer.as_bytes()).await.unwrap(),
                None => tokio::time::sleep(Duration::from_secs(30)).await,
            }
        });
        at
    }

    #[tokio::test]
    async fn a_response_reaches_the_sdk_with_its_status_and_body() {
        let at = server(Some("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")).await;
        let response = connector(Duration::from_secs(5))
            .call(get(&at))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let body = aws_smithy_types::byte_stream::ByteStream::new(response.into_body())
            .collect()
            .await
            .unwrap();
        assert_eq!(body.into_bytes().as_ref(), b"ok");
    }

    /// The SDK retries I/O and timeouts; it must be told which is which by
    /// the error's kind.
    #[tokio::test]
    async fn no_answer_is_a_timeout_and_no_listener_is_io() {
        let silent = server(None).await;
        let error = failure(&silent, Duration::from_millis(200)).await;
        assert!(error.is_timeout(), "{error:?}");

        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let error = failure(&at, Duration::from_secs(5)).await;
        assert!(error.is_io(), "{error:?}");
    }

    /// Closed before an answer: retried, as the SDK's own client had it.
    /// A malformed answer: not retried.
    #[tokio::test]
    async fn a_connection_closed_is_retried_and_a_malformed_answer_is_not() {
        let at = server(Some("")).await;
        let error = failure(&at, Duration::from_secs(5)).await;
        assert!(
            error.is_io() || error.as_other() == Some(ErrorKind::TransientError),
            "{error:?}"
        );
        let at = server(Some("HTTP/1.1 banana\r\n\r\n")).await;
        let error = failure(&at, Duration::from_secs(5)).await;
        assert!(error.is_other() && error.as_other().is_none(), "{error:?}");
        assert!(!format!("{error:?}").contains("127.0.0.1"), "{error:?}");
    }
}
