//! The SSRF guard at name resolution: the HTTP client resolves through this,
//! so a host name that resolves to a special address (loopback, private,
//! link-local, metadata) is refused before any connection, unless the
//! integration allows private networks. The address rules: `integrations::ssrf`.

use std::net::SocketAddr;

use tel_core::integrations::ssrf::check;

/// A resolver for the HTTP client that drops special addresses.
pub struct GuardedResolver {
    pub integration: String,
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let integration = self.integration.clone();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match check(&integration, addr.ip(), allow_private) {
                    Ok(()) => true,
                    Err(r) => {
                        refused.get_or_insert(r);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(r)) => Err(Box::new(r) as Box<dyn std::error::Error + Send + Sync>),
                (true, None) => Err(format!("{host} resolves to no address").into()),
                _ => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}
