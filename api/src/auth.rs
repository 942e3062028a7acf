//! Who is calling. Behind API Gateway the JWT authorizer has verified the
//! token and the handler reads its claims from the request context; served
//! anywhere else the API verifies the bearer token itself (an HS256 key, or
//! the keys of a JWKS file). Admins are the members of a configurable group.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ring::hmac;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jwt::{self, Algorithm, JwkSet, Key, Rules};
use super::problem::Problem;
use tel_core::domain::{Assignee, AssigneeType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub groups: Vec<String>,
    pub admin: bool,
}

impl Caller {
    /// Whether the caller is `assignee`, or a member of it when it is a group.
    pub fn holds(&self, assignee: &Assignee) -> bool {
        match assignee.kind {
            AssigneeType::User => assignee.id == self.user,
            AssigneeType::Group => self.groups.contains(&assignee.id),
        }
    }
}

/// How tokens are checked.
#[derive(Clone)]
pub enum Verifier {
    /// API Gateway's JWT authorizer already verified the token.
    Gateway,
    /// One shared HS256 key (local development).
    Hs256(hmac::Key),
    /// The keys of a JWKS document, by `kid` (RS256/ES256 and friends).
    Jwks(JwkSet),
}

#[derive(Clone)]
pub struct AuthConfig {
    pub verifier: Verifier,
    /// The claim listing the caller's groups, e.g. `cognito:groups`.
    pub groups_claim: String,
    pub admin_group: String,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

impl AuthConfig {
    /// From `TEL_AUTH_MODE` (`gateway` | `hs256` | `jwks`), `TEL_JWT_HS256_SECRET`,
    /// `TEL_JWT_JWKS_FILE`, `TEL_JWT_ISSUER`, `TEL_JWT_AUDIENCE`,
    /// `TEL_GROUPS_CLAIM` (default `cognito:groups`), `TEL_ADMIN_GROUP` (default `tel-admins`).
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// As `from_env`, from `var`. Outside the development mode (`hs256`)
    /// a token's issuer and audience are checked: `jwks` needs
    /// `TEL_JWT_ISSUER` and `TEL_JWT_AUDIENCE`, unless turned off on purpose
    /// with `TEL_JWT_ANY_ISSUER=true` / `TEL_JWT_ANY_AUDIENCE=true` (any
    /// token the keys signed, for any client, would do otherwise).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let verifier = match var("TEL_AUTH_MODE").as_deref().unwrap_or("gateway") {
            "gateway" => Verifier::Gateway,
            "hs256" => {
                let secret = var("TEL_JWT_HS256_SECRET").ok_or_else(|| {
                    anyhow::anyhow!("TEL_AUTH_MODE=hs256 needs TEL_JWT_HS256_SECRET")
                })?;
                Verifier::Hs256(hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()))
            }
            "jwks" => {
                let file = var("TEL_JWT_JWKS_FILE")
                    .ok_or_else(|| anyhow::anyhow!("TEL_AUTH_MODE=jwks needs TEL_JWT_JWKS_FILE"))?;
                Verifier::Jwks(serde_json::from_str(&std::fs::read_to_string(&file)?)?)
            }
            other => anyhow::bail!("TEL_AUTH_MODE must be gateway, hs256 or jwks, got {other:?}"),
        };
        let issuer = var("TEL_JWT_ISSUER");
        let audience = var("TEL_JWT_AUDIENCE");
        if let Verifier::Jwks(_) = verifier {
            let off = |k: &str| var(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
            if issuer.is_none() && !off("TEL_JWT_ANY_ISSUER") {
                anyhow::bail!(
                    "TEL_AUTH_MODE=jwks needs TEL_JWT_ISSUER (or TEL_JWT_ANY_ISSUER=true to accept any issuer)"
                );
            }
            if audience.is_none() && !off("TEL_JWT_ANY_AUDIENCE") {
                anyhow::bail!(
                    "TEL_AUTH_MODE=jwks needs TEL_JWT_AUDIENCE (or TEL_JWT_ANY_AUDIENCE=true to accept any audience)"
                );
            }
        }
        Ok(Self {
            verifier,
            groups_claim: var("TEL_GROUPS_CLAIM").unwrap_or_else(|| "cognito:groups".into()),
            admin_group: var("TEL_ADMIN_GROUP").unwrap_or_else(|| "tel-admins".into()),
            issuer,
            audience,
        })
    }

    pub fn hs256(secret: &str) -> Self {
        Self {
            verifier: Verifier::Hs256(hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())),
            groups_claim: "cognito:groups".into(),
            admin_group: "tel-admins".into(),
            issuer: None,
            audience: None,
        }
    }

    fn caller_from_claims(&self, claims: &HashMap<String, Value>) -> Result<Caller, Problem> {
        let user = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Problem::unauthenticated("the token has no subject (sub)"))?
            .to_owned();
        let groups = match claims.get(&self.groups_claim) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|g| g.as_str().map(str::to_owned))
                .collect(),
            Some(Value::String(text)) => gateway_list(text),
            _ => Vec::new(),
        };
        let admin = groups.contains(&self.admin_group);
        Ok(Caller {
            user,
            groups,
            admin,
        })
    }

    /// The claims of a bearer token this configuration accepts: signature,
    /// expiry, not-before, and issuer and audience when set.
    pub fn verify(&self, token: &str) -> Result<HashMap<String, Value>, Problem> {
        let header = jwt::header(token)
            .map_err(|e| Problem::unauthenticated(format!("malformed token: {e}")))?;
        // The header is the caller's text: quoted, and cut short.
        let refused = || {
            let alg: String = header.alg.chars().take(16).collect();
            Problem::unauthenticated(format!("tokens signed with {alg:?} are not accepted"))
        };
        let algorithm: Algorithm = header.alg.parse().map_err(|_| refused())?;
        let key = match &self.verifier {
            Verifier::Hs256(key) if algorithm == Algorithm::HS256 => Key::Hmac(key),
            Verifier::Jwks(_) if algorithm.is_hmac() => return Err(refused()),
            Verifier::Jwks(set) => Key::Public(
                match header.kid.as_deref() {
                    Some(kid) => set.find(kid),
                    None if set.keys.len() == 1 => set.keys.first(),
                    None => None,
                }
                .ok_or_else(|| {
                    Problem::unauthenticated("no key in the JWKS matches the token's kid")
                })?,
            ),
            Verifier::Hs256(_) => return Err(refused()),
            Verifier::Gateway => {
                return Err(Problem::unauthenticated(
                    "no verified claims from the gateway",
                ));
            }
        };
        let rules = Rules {
            now: chrono::Utc::now().timestamp(),
            leeway: 5,
            issuer: self.issuer.as_deref(),
            audience: self.audience.as_deref(),
        };
        jwt::verify(token, algorithm, key, &rules).map_err(|e| match e {
            jwt::TokenError::UnsupportedAlgorithm(_) => refused(),
            jwt::TokenError::UnusableKey(why) => {
                Problem::unauthenticated(format!("unusable JWKS key: {why}"))
            }
            e => Problem::unauthenticated(format!("invalid token: {e}")),
        })
    }

    /// The caller of a request: from the gateway's verified claims, or from
    /// the bearer token, verified here.
    pub fn caller(&self, parts: &Parts) -> Result<Caller, Problem> {
        if let Verifier::Gateway = self.verifier {
            let mut claims = gateway_claims(parts)
                .ok_or_else(|| Problem::unauthenticated("no JWT claims in the request context"))?;
            // The gateway flattens a list claim to text (`[a b c]`), which
            // cannot be split back for certain; the token it verified holds
            // the list as issued.
            if let Some(groups) = verified_token_claims(parts, &claims)
                .and_then(|mut token| token.remove(&self.groups_claim))
            {
                claims.insert(self.groups_claim.clone(), groups);
            }
            return self.caller_from_claims(&claims);
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| Problem::unauthenticated("send `Authorization: Bearer <token>`"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                Problem::unauthenticated("the Authorization header must be `Bearer <token>`")
            })?;
        let claims = self.verify(token.trim())?;
        self.caller_from_claims(&claims)
    }
}

/// API Gateway flattens list claims to text like `[a b c]`: one bracket
/// off each end, then split on spaces only (a group named `x,tel-admins` is
/// not two groups; Cognito's group names hold no spaces).
fn gateway_list(text: &str) -> Vec<String> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The claims of the request's bearer token, read without checking its
/// signature, when it is the very token the gateway verified: every claim
/// the gateway passed that the token holds as a string or number must read
/// the same (`sub`, `iat`, `exp`, `jti`, `iss` among them), and `sub` and
/// `exp` must be there. Anything else gives `None`.
fn verified_token_claims(
    parts: &Parts,
    verified: &HashMap<String, Value>,
) -> Option<HashMap<String, Value>> {
    use base64::Engine;
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .unwrap_or(header)
        .trim();
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: HashMap<String, Value> = serde_json::from_slice(&bytes).ok()?;
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let required = ["sub", "exp"]
        .iter()
        .all(|k| claims.contains_key(*k) && verified.contains_key(*k));
    let agree = verified.iter().all(|(k, v)| match claims.get(k).map(text) {
        Some(Some(own)) => Some(own) == text(v),
        _ => true,
    });
    (required && agree).then_some(claims)
}

fn gateway_claims(parts: &Parts) -> Option<HashMap<String, Value>> {
    use lambda_http::request::RequestContext;
    match parts.extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => {
            let claims = &context.authorizer.as_ref()?.jwt.as_ref()?.claims;
            Some(
                claims
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        }
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Lets handlers take `Caller` as an argument.
impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync + AsRef<AuthConfig>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        state.as_ref().caller(parts)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct DevClaims {
    sub: String,
    exp: i64,
    iat: i64,
    #[serde(rename = "cognito:groups")]
    groups: Vec<String>,
}

/// Mints an HS256 token for local development (`tel token`).
pub fn mint_dev_token(
    secret: &str,
    user: &str,
    groups: &[String],
    ttl_seconds: i64,
) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = DevClaims {
        sub: user.to_owned(),
        exp: now + ttl_seconds,
        iat: now,
        groups: groups.to_vec(),
    };
    Ok(jwt::mint_hs256(secret.as_bytes(), &claims)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(token: Option<&str>) -> Parts {
        let mut builder = axum::http::Request::builder();
        if let Some(t) = token {
            builder = builder.header("Authorization", format!("Bearer {t}"));
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn a_minted_token_identifies_its_user_groups_and_admin_rights() {
        let auth = AuthConfig::hs256("secret");
        let token = mint_dev_token(
            "secret",
            "u-1",
            &["finance".into(), "tel-admins".into()],
            60,
        )
        .unwrap();
        let caller = auth.caller(&parts(Some(&token))).unwrap();
        assert_eq!(
            caller,
            Caller {
                user: "u-1".into(),
                groups: vec!["finance".into(), "tel-admins".into()],
                admin: true
            }
        );
    }

    #[test]
    fn missing_forged_and_expired_tokens_are_refused() {
        let auth = AuthConfig::hs256("secret");
        assert_eq!(auth.caller(&parts(None)).unwrap_err().status, 401);
        let forged = mint_dev_token("other", "u-1", &[], 60).unwrap();
        assert!(
            auth.caller(&parts(Some(&forged)))
                .unwrap_err()
                .detail
                .contains("InvalidSignature")
        );
        let expired = mint_dev_token("secret", "u-1", &[], -120).unwrap();
        assert!(
            auth.caller(&parts(Some(&expired)))
                .unwrap_err()
                .detail
                .contains("ExpiredSignature")
        );
    }

    /// A P-256 key made for these tests only, and its public half as a JWKS.
    const TEST_EC_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg381yIVLmI4TToNvT
c+aliP/daHGokbS8YAHm8Z+YeAqhRANCAAQ5trW+PDplfxb6odOQRtdvH2jnb/Nl
crm/HJrqP948A4XF5FyBPX925I4IN0VbK23q3fFMGFeOuriCj2J3qXP4
-----END PRIVATE KEY-----";

    fn jwks_config() -> AuthConfig {
        let set: JwkSet = serde_json::from_value(serde_json::json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "kid": "test-1", "alg": "ES256", "use": "sig",
            "x": "Oba1vjw6ZX8W-qHTkEbXbx9o52_zZXK5vxya6j_ePAM",
            "y": "hcXkXIE9f3bkjgg3RVsrberd8UwYV466uIKPYnepc_g"
        }] }))
        .unwrap();
        AuthConfig {
            verifier: Verifier::Jwks(set),
            groups_claim: "groups".into(),
            admin_group: "ops".into(),
            issuer: Some("https://issuer.example".into()),
            audience: Some("tel".into()),
        }
    }

    fn es256(kid: &str, claims: serde_json::Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(kid.into());
        use base64::Engine;
        let body: String = TEST_EC_KEY
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_der(&der),
        )
        .unwrap()
    }

    #[test]
    fn jwks_tokens_are_checked_for_key_issuer_and_audience() {
        let auth = jwks_config();
        let exp = chrono::Utc::now().timestamp() + 60;
        let good = serde_json::json!({ "sub": "u-9", "exp": exp, "iss": "https://issuer.example", "aud": "tel", "groups": ["ops"] });
        let caller = auth
            .caller(&parts(Some(&es256("test-1", good.clone()))))
            .unwrap();
        assert_eq!(
            caller,
            Caller {
                user: "u-9".into(),
                groups: vec!["ops".into()],
                admin: true
            }
        );
        let mut wrong_audience = good.clone();
        wrong_audience["aud"] = "other".into();
        assert!(
            auth.caller(&parts(Some(&es256("test-1", wrong_audience))))
                .unwrap_err()
                .detail
                .contains("InvalidAudience")
        );
        let mut wrong_issuer = good.clone();
        wrong_issuer["iss"] = "https://evil.example".into();
        assert!(
            auth.caller(&parts(Some(&es256("test-1", wrong_issuer))))
                .unwrap_err()
                .detail
                .contains("InvalidIssuer")
        );
        assert!(
            auth.caller(&parts(Some(&es256("unknown", good))))
                .unwrap_err()
                .detail
                .contains("no key in the JWKS")
        );
        // An HS256 token signed with the public key's text must not pass as the JWKS key.
        let forged = mint_dev_token(
            "Oba1vjw6ZX8W-qHTkEbXbx9o52_zZXK5vxya6j_ePAM",
            "u-9",
            &[],
            60,
        )
        .unwrap();
        assert_eq!(auth.caller(&parts(Some(&forged))).unwrap_err().status, 401);
    }

    #[test]
    fn behind_the_gateway_claims_come_from_the_request_context() {
        use aws_lambda_events::apigw::{
            ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
            ApiGatewayV2httpRequestContext,
        };
        let auth = AuthConfig {
            verifier: Verifier::Gateway,
            ..AuthConfig::hs256("unused")
        };
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = [
            ("sub".to_owned(), "u-7".to_owned()),
            (
                "cognito:groups".to_owned(),
                "[finance tel-admins]".to_owned(),
            ),
        ]
        .into();
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.authorizer = Some(authorizer);
        let mut with_claims = parts(None);
        with_claims
            .extensions
            .insert(lambda_http::request::RequestContext::ApiGatewayV2(context));
        let caller = auth.caller(&with_claims).unwrap();
        assert_eq!(
            caller,
            Caller {
                user: "u-7".into(),
                groups: vec!["finance".into(), "tel-admins".into()],
                admin: true
            }
        );
        // A bearer token is not trusted in gateway mode: only the authorizer's claims are.
        let token = mint_dev_token("unused", "u-1", &[], 60).unwrap();
        assert_eq!(auth.caller(&parts(Some(&token))).unwrap_err().status, 401);
    }

    #[test]
    fn gateway_list_claims_are_split_on_spaces_only() {
        assert_eq!(
            gateway_list("[finance tel-admins]"),
            vec!["finance", "tel-admins"]
        );
        assert_eq!(gateway_list("finance"), vec!["finance"]);
        assert_eq!(gateway_list("[x,tel-admins]"), vec!["x,tel-admins"]);
        assert_eq!(gateway_list("[tel-admins]]"), vec!["tel-admins]"]);
    }

    #[test]
    fn jwks_needs_an_issuer_and_an_audience_unless_turned_off() {
        let dir = std::env::temp_dir().join(format!("tel-jwks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("jwks.json");
        std::fs::write(&file, r#"{"keys": []}"#).unwrap();
        let file = file.to_string_lossy().into_owned();
        let with = |extra: &[(&str, &str)]| {
            let mut vars: HashMap<String, String> = [
                ("TEL_AUTH_MODE", "jwks"),
                ("TEL_JWT_JWKS_FILE", file.as_str()),
            ]
            .into_iter()
            .chain(extra.iter().copied())
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            vars.remove("");
            AuthConfig::from_vars(|k| vars.get(k).cloned())
        };
        let err = with(&[]).err().unwrap().to_string();
        assert!(err.contains("TEL_JWT_ISSUER"), "{err}");
        let err = with(&[("TEL_JWT_ISSUER", "https://i")])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("TEL_JWT_AUDIENCE"), "{err}");
        let both = with(&[("TEL_JWT_ISSUER", "https://i"), ("TEL_JWT_AUDIENCE", "tel")]).unwrap();
        assert_eq!(both.issuer.as_deref(), Some("https://i"));
        assert!(
            with(&[
                ("TEL_JWT_ANY_ISSUER", "true"),
                ("TEL_JWT_ANY_AUDIENCE", "true")
            ])
            .is_ok()
        );
        // The development mode checks them only when given.
        let dev = AuthConfig::from_vars(|k| match k {
            "TEL_AUTH_MODE" => Some("hs256".into()),
            "TEL_JWT_HS256_SECRET" => Some("s".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(dev.issuer, None);
    }

    #[test]
    fn a_token_without_a_kid_takes_the_only_key_and_no_other() {
        let exp = chrono::Utc::now().timestamp() + 60;
        let good = serde_json::json!({ "sub": "u-9", "exp": exp, "iss": "https://issuer.example", "aud": "tel" });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = None;
        let der = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            TEST_EC_KEY
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
        let token = jsonwebtoken::encode(
            &header,
            &good,
            &jsonwebtoken::EncodingKey::from_ec_der(&der),
        )
        .unwrap();
        let one = jwks_config();
        assert_eq!(one.caller(&parts(Some(&token))).unwrap().user, "u-9");
        let mut two = jwks_config();
        if let Verifier::Jwks(set) = &mut two.verifier {
            let mut other = set.keys[0].clone();
            other.kid = Some("test-2".into());
            set.keys.push(other);
        }
        assert!(
            two.caller(&parts(Some(&token)))
                .unwrap_err()
                .detail
                .contains("no key in the JWKS")
        );
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        let auth = jwks_config();
        let now = chrono::Utc::now().timestamp();
        let early = serde_json::json!({ "sub": "u-9", "exp": now + 600, "nbf": now + 300, "iss": "https://issuer.example", "aud": "tel" });
        let err = auth
            .caller(&parts(Some(&es256("test-1", early))))
            .unwrap_err();
        assert!(err.detail.contains("ImmatureSignature"), "{}", err.detail);
    }
}
