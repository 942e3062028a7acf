//! A fake OIDC issuer for the UI's sign-in test, served on 127.0.0.1:
//! discovery, an authorization endpoint that signs its one person in at once
//! (no login page) and sends the browser back with a code, and a token
//! endpoint that answers with an ES256 access token only for the verifier
//! whose S256 challenge came with that code. It keeps what it was asked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tel_api::auth::{AuthConfig, Verifier};
use tel_api::jwt::JwkSet;

/// A P-256 key made for tests only, and its public half as a JWKS.
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg381yIVLmI4TToNvT
c+aliP/daHGokbS8YAHm8Z+YeAqhRANCAAQ5trW+PDplfxb6odOQRtdvH2jnb/Nl
crm/HJrqP948A4XF5FyBPX925I4IN0VbK23q3fFMGFeOuriCj2J3qXP4
-----END PRIVATE KEY-----";
const KEY_ID: &str = "fake-issuer-1";

#[derive(Debug, Default)]
pub struct IssuerLog {
    /// Each authorization request's query.
    pub authorizations: Vec<BTreeMap<String, String>>,
    /// Each token exchange: Ok, or why it was refused.
    pub exchanges: Vec<Result<(), String>>,
}

#[derive(Clone)]
struct Shared {
    url: String,
    client_id: String,
    user: String,
    name: String,
    groups: Vec<String>,
    /// Code → (its challenge, the redirect URI it was issued for).
    codes: Arc<Mutex<BTreeMap<String, (String, String)>>>,
    log: Arc<Mutex<IssuerLog>>,
}

pub struct FakeIssuer {
    pub url: String,
    pub client_id: String,
    shared: Shared,
}

impl FakeIssuer {
    /// An issuer whose one person is `user` (shown as `name`) in `groups`.
    pub async fn start(client_id: &str, user: &str, name: &str, groups: &[&str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Shared {
            url: url.clone(),
            client_id: client_id.to_owned(),
            user: user.to_owned(),
            name: name.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            codes: Arc::default(),
            log: Arc::default(),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            client_id: client_id.to_owned(),
            shared,
        }
    }

    /// How an API that trusts this issuer checks tokens.
    pub fn auth_config(&self) -> AuthConfig {
        let jwks: JwkSet = serde_json::from_value(json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "kid": KEY_ID, "alg": "ES256", "use": "sig",
            "x": "Oba1vjw6ZX8W-qHTkEbXbx9o52_zZXK5vxya6j_ePAM",
            "y": "hcXkXIE9f3bkjgg3RVsrberd8UwYV466uIKPYnepc_g"
        }] }))
        .expect("a JWKS");
        AuthConfig {
            verifier: Verifier::Jwks(jwks),
            groups_claim: "cognito:groups".into(),
            admin_group: "tel-admins".into(),
            issuer: Some(self.url.clone()),
            audience: Some(self.client_id.clone()),
        }
    }

    /// An access token for this issuer's person, as its token endpoint gives.
    pub fn token(&self) -> String {
        access_token(&self.shared)
    }

    /// This issuer's person's token with `extra` claims set (or replaced;
    /// a null takes the claim out).
    pub fn token_with(&self, extra: Value) -> String {
        sign(&self.shared, extra)
    }

    /// A valid access token of this issuer for someone else (an attacker's own).
    pub fn token_for(&self, user: &str, name: &str) -> String {
        let other = Shared {
            user: user.to_owned(),
            name: name.to_owned(),
            groups: Vec::new(),
            ..self.shared.clone()
        };
        access_token(&other)
    }

    pub fn log(&self) -> std::sync::MutexGuard<'_, IssuerLog> {
        self.shared.log.lock().expect("lock")
    }
}

fn access_token(s: &Shared) -> String {
    sign(s, json!({}))
}

fn sign(s: &Shared, extra: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": s.user, "name": s.name, "cognito:groups": s.groups,
        "iss": s.url, "aud": s.client_id, "iat": now, "exp": now + 600,
    });
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        for (name, value) in extra {
            match value {
                Value::Null => claims.remove(&name),
                value => claims.insert(name, value),
            };
        }
    }
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(KEY_ID.into());
    let body: String = KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("the key's DER");
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&der)).expect("a token")
}

/// The page fetches discovery and the token from another origin.
fn cors(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

async fn discovery(State(s): State<Shared>) -> Response {
    cors(
        axum::Json(json!({
            "issuer": s.url,
            "authorization_endpoint": format!("{}/authorize", s.url),
            "token_endpoint": format!("{}/token", s.url),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
        }))
        .into_response(),
    )
}

async fn authorize(
    State(s): State<Shared>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    s.log
        .lock()
        .expect("lock")
        .authorizations
        .push(query.clone());
    let field = |k: &str| query.get(k).cloned().unwrap_or_default();
    if field("client_id") != s.client_id || field("code_challenge_method") != "S256" {
        return (
            StatusCode::BAD_REQUEST,
            "unknown client or no S256 challenge",
        )
            .into_response();
    }
    let code = uuid::Uuid::new_v4().simple().to_string();
    s.codes.lock().expect("lock").insert(
        code.clone(),
        (field("code_challenge"), field("redirect_uri")),
    );
    let back = format!(
        "{}?code={code}&state={}",
        field("redirect_uri"),
        form_urlencoded::byte_serialize(field("state").as_bytes()).collect::<String>()
    );
    Redirect::to(&back).into_response()
}

async fn token(State(s): State<Shared>, body: Bytes) -> Response {
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let issued = s.codes.lock().expect("lock").remove(&field("code"));
    let verdict = match issued {
        None => Err("unknown or reused code".to_owned()),
        Some(_) if field("grant_type") != "authorization_code" => Err("wrong grant".into()),
        Some(_) if field("client_id") != s.client_id => Err("wrong client".into()),
        Some((_, redirect)) if field("redirect_uri") != redirect => {
            Err("redirect_uri differs from the authorization's".into())
        }
        Some((challenge, _)) => {
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(field("code_verifier").as_bytes()));
            if computed == challenge {
                Ok(())
            } else {
                Err("the verifier does not match the challenge".into())
            }
        }
    };
    s.log.lock().expect("lock").exchanges.push(verdict.clone());
    let response = match verdict {
        Ok(()) => axum::Json(json!({
            "access_token": access_token(&s), "token_type": "Bearer", "expires_in": 600,
        }))
        .into_response(),
        Err(why) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "invalid_grant", "error_description": why })),
        )
            .into_response(),
    };
    cors(response)
}
