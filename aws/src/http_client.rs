//! HTTPS for the whole process: one client every SDK client of a function
//! shares, and the TLS provider the HTTP integrations' clients use. Both
//! are rustls with ring. The SDK's default client is rustls with aws-lc,
//! whose C library was 2 MB of every function's binary; ring does
//! the same TLS 1.2/1.3 with the same certificate checks, without the
//! hybrid post-quantum key exchange aws-lc offers.
//!
//! The shared client also makes its TLS connector when the first request
//! needs one, not once per SDK client as the function starts: the default
//! client builds (and throws away) a connector in every `Client::new`, so
//! that the root certificates are read at start-up; a function makes five
//! to seven clients, each of which parsed the whole root store again, and
//! each kept a connection pool of its own.

use std::sync::Once;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The SDK's default HTTPS client (as `aws-smithy-runtime`'s
/// `default_https_client` makes it at the behavior version tel runs with:
/// proxies from the environment, the native root certificates) over ring,
/// made lazily and shared.
pub fn shared_https_client() -> SharedHttpClient {
    let built = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            Connector::builder().tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    SharedHttpClient::new(OnFirstRequest(built))
}

/// Makes ring the process's rustls provider, which clients that do not
/// name one (reqwest's, for the HTTP integrations) take. Idempotent.
pub fn install_crypto_provider() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // An error means a provider is installed already: that one serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Hands requests to the wrapped client, but leaves out its start-up check
/// (`validate_base_client_config`), which is where the default client
/// builds a connector it does not keep.
#[derive(Debug)]
struct OnFirstRequest(SharedHttpClient);

impl HttpClient for OnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}
