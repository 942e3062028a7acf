//! Integrations: registered, versioned descriptions of an external service:
//! where it is, which hosts it may reach, how to authenticate (by reference to
//! Secrets Manager, never by value), timeouts, limits and breaker settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::DefinitionName;
use crate::domain::definition::{DefinitionError, Problem};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPlacement {
    Header,
    Query,
}

/// How calls authenticate. Every `secretRef` names a Secrets Manager secret,
/// read at call time: the secret itself is never stored here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Auth {
    #[default]
    None,
    /// The secret's text as a header or query parameter named `name`.
    #[serde(rename_all = "camelCase")]
    ApiKey {
        r#in: KeyPlacement,
        name: String,
        secret_ref: String,
    },
    /// `Authorization: Bearer <secret>`.
    #[serde(rename_all = "camelCase")]
    Bearer { secret_ref: String },
    /// The secret is JSON `{"username": …, "password": …}`.
    #[serde(rename_all = "camelCase")]
    Basic { secret_ref: String },
    /// Client credentials: the secret is the client secret. The token is
    /// cached until shortly before it expires, and refreshed once on a 401.
    #[serde(rename_all = "camelCase")]
    Oauth2ClientCredentials {
        token_url: String,
        client_id: String,
        secret_ref: String,
        #[serde(default)]
        scopes: Vec<String>,
        #[serde(default)]
        audience: Option<String>,
    },
}

impl Auth {
    pub fn secret_ref(&self) -> Option<&str> {
        match self {
            Auth::None => None,
            Auth::ApiKey { secret_ref, .. }
            | Auth::Bearer { secret_ref }
            | Auth::Basic { secret_ref }
            | Auth::Oauth2ClientCredentials { secret_ref, .. } => Some(secret_ref),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timeouts {
    pub connect_ms: u64,
    pub total_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect_ms: 2_000,
            total_ms: 10_000,
        }
    }
}

/// The circuit breaker: closed → open when, over `windowSeconds` and at least
/// `minimumCalls`, the failure rate reaches `failureRateThreshold`; open for
/// `coolDownSeconds`; then half-open: up to `halfOpenProbes` calls (default 1)
/// go through at once, one failure reopens it, all succeeding closes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BreakerSettings {
    pub failure_rate_threshold: f64,
    pub minimum_calls: u32,
    pub window_seconds: u64,
    pub cool_down_seconds: u64,
    #[serde(default = "one_probe")]
    pub half_open_probes: u32,
}

fn one_probe() -> u32 {
    1
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failure_rate_threshold: 0.5,
            minimum_calls: 10,
            window_seconds: 60,
            cool_down_seconds: 30,
            half_open_probes: one_probe(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntegrationLimits {
    /// Calls in flight to this integration, across every executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// Calls started per second, across every executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_second: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Integration {
    pub name: DefinitionName,
    #[serde(default)]
    pub version: u32,
    pub base_url: String,
    /// Hosts calls (and redirects, and the token endpoint) may reach; the base URL's host by default.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    #[serde(default)]
    pub default_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub auth: Auth,
    #[serde(default)]
    pub limits: IntegrationLimits,
    #[serde(default)]
    pub breaker: BreakerSettings,
    /// Loopback, private, link-local (the metadata service) and other special
    /// addresses are refused unless this says otherwise.
    #[serde(default)]
    pub allow_private_networks: bool,
    /// Who may name it in a definition (`use`), see it, register versions; none: admins only.
    #[serde(
        default,
        skip_serializing_if = "crate::domain::IntegrationAccess::is_empty"
    )]
    pub access: crate::domain::IntegrationAccess,
}

fn problem(path: &str, message: impl Into<String>) -> Problem {
    Problem {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn http_url(text: &str, path: &str, problems: &mut Vec<Problem>) -> Option<url::Url> {
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
        Ok(_) => {
            problems.push(problem(path, "must be an http or https URL with a host"));
            None
        }
        Err(e) => {
            problems.push(problem(path, format!("not a URL: {e}")));
            None
        }
    }
}

impl Integration {
    pub fn parse(value: Value) -> Result<Self, DefinitionError> {
        let mut integration: Integration =
            serde_path_to_error::deserialize(value).map_err(|e| DefinitionError {
                problems: vec![problem(&e.path().to_string(), e.into_inner().to_string())],
            })?;
        let mut problems = Vec::new();
        if let Some(base) = http_url(&integration.base_url, "baseUrl", &mut problems)
            && integration.allowed_hosts.is_empty()
        {
            integration
                .allowed_hosts
                .push(base.host_str().unwrap_or_default().to_owned());
        }
        if let Auth::Oauth2ClientCredentials { token_url, .. } = &integration.auth
            && let Some(token) = http_url(token_url, "auth.tokenUrl", &mut problems)
        {
            let host = token.host_str().unwrap_or_default();
            if !integration.allowed_hosts.iter().any(|h| h == host) {
                problems.push(problem(
                    "auth.tokenUrl",
                    format!("host {host} is not in allowedHosts"),
                ));
            }
        }
        if integration
            .auth
            .secret_ref()
            .is_some_and(|r| r.trim().is_empty())
        {
            problems.push(problem(
                "auth.secretRef",
                "must name a Secrets Manager secret",
            ));
        }
        if let Auth::ApiKey { name, .. } = &integration.auth
            && name.trim().is_empty()
        {
            problems.push(problem(
                "auth.name",
                "must name the header or query parameter",
            ));
        }
        let t = &integration.timeouts;
        if t.connect_ms == 0 || t.total_ms == 0 || t.connect_ms > t.total_ms || t.total_ms > 900_000
        {
            problems.push(problem(
                "timeouts",
                "connectMs and totalMs must be positive, connectMs ≤ totalMs ≤ 900000",
            ));
        }
        let b = &integration.breaker;
        if !(0.0 < b.failure_rate_threshold && b.failure_rate_threshold <= 1.0) {
            problems.push(problem(
                "breaker.failureRateThreshold",
                format!("must be in (0, 1], got {}", b.failure_rate_threshold),
            ));
        }
        if b.minimum_calls == 0
            || b.window_seconds == 0
            || b.cool_down_seconds == 0
            || b.cool_down_seconds > 86_400
        {
            problems.push(problem("breaker", "minimumCalls, windowSeconds and coolDownSeconds must be positive (coolDown at most a day)"));
        }
        if b.half_open_probes == 0 || b.half_open_probes > 100 {
            problems.push(problem(
                "breaker.halfOpenProbes",
                format!("must be from 1 to 100, got {}", b.half_open_probes),
            ));
        }
        if integration.limits.max_concurrent == Some(0) {
            problems.push(problem("limits.maxConcurrent", "must be at least 1"));
        }
        if integration.limits.rate_per_second == Some(0) {
            problems.push(problem("limits.ratePerSecond", "must be at least 1"));
        }
        if problems.is_empty() {
            Ok(integration)
        } else {
            Err(DefinitionError { problems })
        }
    }

    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }

    pub fn at_version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// Whether `reference` is one of this integration's own secrets:
    /// `<prefix><name>` or under `<prefix><name>/`. Binding secrets to the
    /// integration by name keeps a manager of one integration from pointing
    /// it at another's credentials (every secret under the prefix is
    /// readable by the executor). ARNs are not accepted: names only.
    pub fn owns_secret(&self, prefix: &str, reference: &str) -> bool {
        let own = format!("{prefix}{}", self.name);
        reference == own
            || reference
                .strip_prefix(&own)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|rest| !rest.is_empty())
    }

    /// Every `secretRef` is one of the integration's own (see `owns_secret`).
    pub fn check_secret_refs(&self, prefix: &str) -> Result<(), DefinitionError> {
        match self.auth.secret_ref() {
            Some(reference) if !self.owns_secret(prefix, reference) => Err(DefinitionError {
                problems: vec![problem(
                    "auth.secretRef",
                    format!(
                        "must be {prefix}{name} or a name under {prefix}{name}/: an integration reads only its own secrets",
                        name = self.name
                    ),
                )],
            }),
            _ => Ok(()),
        }
    }

    /// The first setting of this version that only an admin may change from
    /// `latest`: where calls go (the base URL's origin, the allowed hosts,
    /// private networks) and how they authenticate (the whole `auth`).
    pub fn admin_only_change_from(&self, latest: &Integration) -> Option<&'static str> {
        let origin = |text: &str| url::Url::parse(text).ok().map(|u| u.origin());
        let hosts = |i: &Integration| {
            let mut hosts: Vec<String> = i
                .allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect();
            hosts.sort();
            hosts
        };
        if origin(&self.base_url) != origin(&latest.base_url) {
            Some("the host of baseUrl")
        } else if hosts(self) != hosts(latest) {
            Some("allowedHosts")
        } else if self.allow_private_networks != latest.allow_private_networks {
            Some("allowPrivateNetworks")
        } else if self.auth != latest.auth {
            Some("auth")
        } else {
            None
        }
    }

    pub fn host_allowed(&self, host: &str) -> bool {
        self.allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_integration_parses_with_defaults_and_its_host_allowed() {
        let i = Integration::parse(json!({
            "name": "crm", "baseUrl": "https://api.crm.example/v2",
            "auth": { "type": "bearer", "secretRef": "tel/integrations/crm" }
        }))
        .unwrap();
        assert_eq!(i.allowed_hosts, vec!["api.crm.example"]);
        assert_eq!(i.timeouts, Timeouts::default());
        assert!(!i.allow_private_networks);
    }

    #[test]
    fn an_integration_owns_only_secrets_under_its_own_name() {
        let i = Integration::parse(json!({
            "name": "crm", "baseUrl": "https://api.crm.example/v2",
            "auth": { "type": "bearer", "secretRef": "tel/integrations/crm" }
        }))
        .unwrap();
        let prefix = "tel/integrations/";
        for own in ["tel/integrations/crm", "tel/integrations/crm/eu"] {
            assert!(i.owns_secret(prefix, own), "{own}");
        }
        for other in [
            "tel/integrations/payments",
            "tel/integrations/crm-eu",
            "tel/integrations/crm/",
            "tel/integrations/crmx",
            "other/crm",
            "arn:aws:secretsmanager:us-east-1:1:secret:tel/integrations/crm",
        ] {
            assert!(!i.owns_secret(prefix, other), "{other}");
        }
        assert!(i.check_secret_refs(prefix).is_ok());
        let mut stolen = i.clone();
        stolen.auth = Auth::Bearer {
            secret_ref: "tel/integrations/payments".into(),
        };
        let err = stolen.check_secret_refs(prefix).unwrap_err();
        assert_eq!(err.problems[0].path, "auth.secretRef");
    }

    #[test]
    fn where_calls_go_and_their_credentials_are_admin_only_changes() {
        let latest = Integration::parse(json!({
            "name": "crm", "baseUrl": "https://api.crm.example/v2",
            "auth": { "type": "bearer", "secretRef": "tel/integrations/crm" }
        }))
        .unwrap();
        let mut same_host = latest.clone();
        same_host.base_url = "https://api.crm.example/v3".into();
        same_host.timeouts.total_ms = 5_000;
        assert_eq!(same_host.admin_only_change_from(&latest), None);
        let mut moved = latest.clone();
        moved.base_url = "https://evil.example/v2".into();
        assert_eq!(
            moved.admin_only_change_from(&latest),
            Some("the host of baseUrl")
        );
        let mut hosts = latest.clone();
        hosts.allowed_hosts.push("evil.example".into());
        assert_eq!(hosts.admin_only_change_from(&latest), Some("allowedHosts"));
        let mut private = latest.clone();
        private.allow_private_networks = true;
        assert_eq!(
            private.admin_only_change_from(&latest),
            Some("allowPrivateNetworks")
        );
        let mut auth = latest.clone();
        auth.auth = Auth::Bearer {
            secret_ref: "tel/integrations/crm/other".into(),
        };
        assert_eq!(auth.admin_only_change_from(&latest), Some("auth"));
    }

    #[test]
    fn bad_integrations_are_rejected_with_paths() {
        let err = Integration::parse(json!({
            "name": "crm", "baseUrl": "ftp://x",
            "auth": { "type": "oauth2ClientCredentials", "tokenUrl": "https://login.other.example/token", "clientId": "c", "secretRef": "" },
            "breaker": { "failureRateThreshold": 2.0, "minimumCalls": 5, "windowSeconds": 60, "coolDownSeconds": 10, "halfOpenProbes": 0 }
        }))
        .unwrap_err();
        let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "baseUrl",
                "auth.tokenUrl",
                "auth.secretRef",
                "breaker.failureRateThreshold",
                "breaker.halfOpenProbes"
            ]
        );
        let err = Integration::parse(
            json!({ "name": "crm", "baseUrl": "https://x.example", "auth": { "type": "magic" } }),
        )
        .unwrap_err();
        assert!(
            err.problems[0].message.contains("unknown variant `magic`"),
            "{err}"
        );
    }
}
