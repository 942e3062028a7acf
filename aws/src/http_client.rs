//! The one HTTPS client every SDK client of a function shares. It is the
//! SDK's default client (rustls with aws-lc, proxies from the environment),
//! with one difference: it makes its TLS connector when the first request
//! needs one, not once per SDK client as the functions start. The default
//! client builds (and throws away) a connector in every `Client::new` so
//! that the root certificates are read at start-up; a function makes five
//! to seven clients, each of which parsed the whole root store again, and
//! without a shared client each kept a pool of its own.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The SDK's default HTTPS client (`aws-smithy-runtime`'s
/// `default_https_client` at the behavior version tel runs with), made
/// lazily and shared.
pub fn shared_https_client() -> SharedHttpClient {
    let built = Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            Connector::builder().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    SharedHttpClient::new(OnFirstRequest(built))
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
