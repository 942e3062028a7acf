//! The task inbox and operator console: a single-page app built once from
//! `ui/` (`npm run build`) into `ui/dist/`, which is committed and embedded
//! in this binary, and served under `/ui/` from the API's own origin (so
//! the page calls the API without CORS). These routes take no token: the
//! page holds no data, and signs in to call the API. `/ui/config.json`
//! tells the page how to sign in.

use std::sync::OnceLock;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ApiState;
use super::auth::{AuthConfig, Verifier};
use super::problem::Problem;

/// One embedded file: its gzipped bytes and content type. Only the gzipped
/// copy is embedded (every browser takes it); the plain bytes are inflated
/// from it for a client that does not, once: the plain script was 0.15 MB
/// of the api's zip (docs/benchmarks.md).
struct Asset {
    name: &'static str,
    content_type: &'static str,
    gzipped: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            gzipped: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../ui/dist/",
                $name,
                ".gz"
            )),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
];

impl Asset {
    fn index(&self) -> usize {
        ASSETS
            .iter()
            .position(|a| a.name == self.name)
            .expect("an embedded asset")
    }

    /// The file as built, inflated from its gzipped copy the first time a
    /// client asks for it without gzip.
    fn plain(&self) -> &'static [u8] {
        static PLAIN: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
        let plain = PLAIN.get_or_init(|| {
            ASSETS
                .iter()
                .map(|a| gunzip(a.gzipped).expect("the UI's gzipped files inflate"))
                .collect()
        });
        &plain[self.index()]
    }
}

/// The contents of a one-member gzip file (RFC 1952), checked against its
/// recorded length; `None` if it is not one.
fn gunzip(gz: &[u8]) -> Option<Vec<u8>> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if gz.len() < 18 || gz[..3] != [0x1f, 0x8b, 8] {
        return None;
    }
    let flags = gz[3];
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let extra = u16::from_le_bytes([*gz.get(at)?, *gz.get(at + 1)?]);
        at += 2 + usize::from(extra);
    }
    for field in [FNAME, FCOMMENT] {
        if flags & field != 0 {
            at += gz.get(at..)?.iter().position(|b| *b == 0)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    let (body, trailer) = gz
        .get(at..)?
        .split_at_checked(gz.len().checked_sub(at + 8)?)?;
    let plain = miniz_oxide::inflate::decompress_to_vec(body).ok()?;
    let size = u32::from_le_bytes(trailer[4..8].try_into().ok()?);
    (plain.len() as u32 == size).then_some(plain)
}

/// Only this origin's scripts and styles; API calls to this origin and, for
/// the sign-in's discovery and token exchange, to the issuer and (its token
/// endpoint may sit on another host, as Cognito's does) any HTTPS origin.
fn content_security_policy(sign_in: &SignIn) -> String {
    let issuer = match sign_in {
        SignIn::Oidc { issuer, .. } => origin_of(issuer).map(|o| format!(" {o}")),
        _ => None,
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self' https:{}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        issuer.unwrap_or_default()
    )
}

/// `https://host:port` of a URL.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    Some(&url[..scheme.len() + 3 + host.len()])
}

/// How the page signs its user in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "signIn", rename_all = "camelCase")]
pub enum SignIn {
    /// Locally: a development token (`tel dev` prints a link that carries one).
    Dev,
    /// The OIDC authorization-code flow with PKCE against `issuer`, whose
    /// tokens the API's JWT authorizer trusts.
    #[serde(rename_all = "camelCase")]
    Oidc {
        issuer: String,
        client_id: String,
        scopes: String,
    },
    /// Nothing configured: the page says so.
    Unconfigured,
}

impl SignIn {
    /// Dev tokens where the API checks an HS256 key; otherwise the OIDC
    /// client from `TEL_OIDC_ISSUER` (default: the JWT issuer) and
    /// `TEL_OIDC_CLIENT_ID` (default: the JWT audience).
    pub fn for_auth(auth: &AuthConfig) -> Self {
        if let Verifier::Hs256(_) = auth.verifier {
            return Self::Dev;
        }
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let issuer = var("TEL_OIDC_ISSUER").or_else(|| auth.issuer.clone());
        let client_id = var("TEL_OIDC_CLIENT_ID").or_else(|| auth.audience.clone());
        match (issuer, client_id) {
            (Some(issuer), Some(client_id)) => Self::Oidc {
                issuer: issuer.trim_end_matches('/').to_owned(),
                client_id,
                scopes: var("TEL_OIDC_SCOPES").unwrap_or_else(|| "openid email profile".into()),
            },
            _ => Self::Unconfigured,
        }
    }
}

/// What the page's responses need, settled once at start: how it signs in,
/// and the Content-Security-Policy that follows from it.
pub struct UiSettings {
    pub sign_in: SignIn,
    policy: Option<HeaderValue>,
}

impl UiSettings {
    pub fn for_auth(auth: &AuthConfig) -> Self {
        let sign_in = SignIn::for_auth(auth);
        Self {
            policy: HeaderValue::from_str(&content_security_policy(&sign_in)).ok(),
            sign_in,
        }
    }
}

pub fn routes() -> Router<ApiState> {
    Router::new()
        // The page itself at /ui (the address sign-in returns to) and /ui/;
        // it names its files by absolute path, so either works.
        .route("/ui", get(page))
        .route("/ui/", get(page))
        .route("/ui/config.json", get(config))
        .route("/ui/{file}", get(file))
}

/// How to sign in, and which claims say who is an admin (the page shows
/// the console link from them; the API decides on every call).
async fn config(State(state): State<ApiState>) -> Json<serde_json::Value> {
    let mut config = serde_json::to_value(&state.ui.sign_in).expect("serialises");
    config["groupsClaim"] = state.auth.groups_claim.clone().into();
    config["adminGroup"] = state.auth.admin_group.clone().into();
    Json(config)
}

async fn page(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    serve("index.html", &headers, &state.ui)
}

async fn file(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&name, &headers, &state.ui)
}

/// A strong validator per file, computed once from its gzipped bytes (the
/// build's output, which changes with the file).
fn etag(asset: &Asset) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.gzipped);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    });
    &tags[asset.index()]
}

fn serve(name: &str, headers: &HeaderMap, settings: &UiSettings) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return Problem::not_found(format!("no file {name:?} in the UI")).into_response();
    };
    let tag = etag(asset);
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == tag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else if accepts_gzip(headers) {
        let mut r = asset.gzipped.into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        asset.plain().into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::ETAG, HeaderValue::from_static(tag));
    // Revalidated on every load: a deploy shows at once, an unchanged file costs a 304.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(policy) = &settings.policy {
        h.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|e| e.trim().split(';').next() == Some("gzip"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_lets_the_page_reach_its_issuer_and_nothing_else_runs() {
        let oidc = SignIn::Oidc {
            issuer: "http://127.0.0.1:9000/pool".into(),
            client_id: "c".into(),
            scopes: "openid".into(),
        };
        let policy = content_security_policy(&oidc);
        assert!(
            policy.contains("connect-src 'self' https: http://127.0.0.1:9000;"),
            "{policy}"
        );
        assert!(policy.contains("script-src 'self';") && !policy.contains("unsafe"));
        assert!(content_security_policy(&SignIn::Dev).contains("connect-src 'self' https:;"));
        assert_eq!(origin_of("https://a.example"), Some("https://a.example"));
        assert_eq!(origin_of("no scheme"), None);
    }

    #[test]
    fn every_file_is_embedded_gzipped_and_inflates_to_the_built_file() {
        for asset in ASSETS {
            assert_eq!(&asset.gzipped[..2], [0x1f, 0x8b], "{} is gzip", asset.name);
            let built = std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../ui/dist")
                    .join(asset.name),
            )
            .unwrap();
            assert!(!built.is_empty(), "{}", asset.name);
            assert_eq!(asset.plain(), built, "{}", asset.name);
        }
    }

    #[test]
    fn a_client_without_gzip_gets_the_plain_file_and_one_with_it_the_gzipped() {
        let settings = UiSettings::for_auth(&AuthConfig::hs256("s"));
        let mut headers = HeaderMap::new();
        let plain = serve("app.css", &headers, &settings);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0.9"),
        );
        let gzipped = serve("app.css", &headers, &settings);
        assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(
            plain.headers()[header::ETAG],
            gzipped.headers()[header::ETAG]
        );
    }

    #[test]
    fn gunzip_takes_gzip_members_with_optional_fields_and_refuses_the_rest() {
        let css = ASSETS.iter().find(|a| a.name == "app.css").unwrap();
        let deflate = &css.gzipped[10..css.gzipped.len() - 8];
        let trailer = &css.gzipped[css.gzipped.len() - 8..];
        // FEXTRA (2 bytes), FNAME and FCOMMENT (zero-ended), FHCRC.
        let mut with_fields = vec![0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 3];
        with_fields.extend([2, 0, b'x', b'y']);
        with_fields.extend(b"app.css\0a comment\0");
        with_fields.extend([0, 0]);
        with_fields.extend(deflate);
        with_fields.extend(trailer);
        assert_eq!(gunzip(&with_fields), Some(css.plain().to_vec()));
        let mut wrong_length = css.gzipped.to_vec();
        let n = wrong_length.len();
        wrong_length[n - 1] ^= 1;
        assert_eq!(gunzip(&wrong_length), None);
        assert_eq!(gunzip(b"not gzip at all, not at all"), None);
        assert_eq!(gunzip(&css.gzipped[..12]), None);
        let mut unended_name = css.gzipped[..10].to_vec();
        unended_name[3] = 8;
        unended_name.extend([b'a'; 20]);
        assert_eq!(gunzip(&unended_name), None);
    }
}
