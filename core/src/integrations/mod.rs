//! Integration tasks: HTTP calls to external services described by
//! registered integrations, with credentials by reference, error classes, a circuit breaker per integration and an SSRF guard.

pub mod breaker;
pub mod definition;
pub mod ssrf;

pub use definition::Integration;

/// Where integrations' secrets live in Secrets Manager unless the deployment
/// says otherwise (`TEL_INTEGRATION_SECRETS_PREFIX`, the template's
/// `IntegrationSecretsPrefix`).
pub const DEFAULT_SECRETS_PREFIX: &str = "tel/integrations/";
