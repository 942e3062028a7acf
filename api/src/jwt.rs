//! JSON Web Tokens (RFC 7519) as the API checks them when it is not behind
//! API Gateway's authorizer: a compact JWS signed with HMAC (the development
//! key) or with a key of a JWKS document — RSA of 2048 bits or more
//! (RS256/384/512, PS256/384/512), P-256 or P-384 (ES256, ES384), Ed25519
//! (EdDSA) — verified with `ring`, which every function links already for
//! TLS. It stands in for the `jsonwebtoken` crate, whose pure-Rust RSA,
//! elliptic-curve and Ed25519 code was a second copy of that cryptography
//! in the api's binary (docs/benchmarks.md, "The api without a second
//! cryptography library").
//!
//! A refusal is named as `jsonwebtoken` named it (`ExpiredSignature`,
//! `InvalidAudience`, ...), so what clients and logs saw does not change.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::{hmac, signature};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts, or a part that is not the JSON it must be.
    Malformed(&'static str),
    InvalidSignature,
    ExpiredSignature,
    ImmatureSignature,
    InvalidAudience,
    InvalidIssuer,
    MissingRequiredClaim(&'static str),
    /// A registered claim of the wrong type, e.g. a text `exp`.
    InvalidClaim(&'static str),
    /// An `alg` this verifier does not take, or one its key cannot check.
    UnsupportedAlgorithm(String),
    /// The key cannot check signatures: its type, curve or size.
    UnusableKey(&'static str),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "Malformed: {what}"),
            Self::MissingRequiredClaim(claim) => write!(f, "MissingRequiredClaim({claim})"),
            Self::InvalidClaim(claim) => write!(f, "InvalidClaim({claim})"),
            Self::UnsupportedAlgorithm(alg) => write!(f, "UnsupportedAlgorithm({alg})"),
            Self::UnusableKey(why) => write!(f, "UnusableKey: {why}"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl std::error::Error for TokenError {}

/// The signature algorithms of RFC 7518 (and 8037's EdDSA) that are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl Algorithm {
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }
}

impl FromStr for Algorithm {
    type Err = TokenError;

    fn from_str(name: &str) -> Result<Self, TokenError> {
        const ALL: [Algorithm; 12] = [
            Algorithm::HS256,
            Algorithm::HS384,
            Algorithm::HS512,
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
        ];
        ALL.into_iter()
            .find(|alg| alg.name() == name)
            .ok_or_else(|| TokenError::UnsupportedAlgorithm(name.to_owned()))
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A token's JOSE header: what it says it is signed with, and by which key.
#[derive(Debug, Clone)]
pub struct Header {
    pub alg: String,
    pub kid: Option<String>,
}

/// The header of `token`, read before anything is checked (to pick the key).
/// A header that names `crit` extensions (RFC 7515, 4.1.11) is refused,
/// whatever their value: this verifier understands none.
pub fn header(token: &str) -> Result<Header, TokenError> {
    let (header, _, _) = parts(token)?;
    let header: serde_json::Map<String, Value> =
        serde_json::from_slice(&decode(header, "the header is not base64url")?)
            .map_err(|_| TokenError::Malformed("the header is not a JSON object"))?;
    if header.contains_key("crit") {
        return Err(TokenError::Malformed(
            "the header names critical extensions (`crit`)",
        ));
    }
    let text = |name: &str| match header.get(name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(TokenError::Malformed("`alg` and `kid` are text")),
    };
    Ok(Header {
        alg: text("alg")?.ok_or(TokenError::Malformed("the header names no `alg`"))?,
        kid: text("kid")?,
    })
}

/// A JWKS document (RFC 7517): the keys an issuer signs with.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// The key named `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|key| key.kid.as_deref() == Some(kid))
    }
}

/// One public key of a JWKS. Members this verifier does not read (`x5c`,
/// `key_ops`, ...) are ignored; a key it cannot use is refused when a token
/// names it, not when the document is read.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    /// When given, the only algorithm the key may check.
    #[serde(default)]
    pub alg: Option<String>,
    /// `sig` or `enc`; an `enc` key does not check signatures.
    #[serde(default, rename = "use")]
    pub usage: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

/// What checks a token's signature.
#[derive(Clone, Copy)]
pub enum Key<'k> {
    /// A shared secret; the algorithm is the key's own (`hmac::HMAC_SHA256`, ...).
    Hmac(&'k hmac::Key),
    Public(&'k Jwk),
}

/// What a token's claims must satisfy beyond its signature.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'r> {
    /// Seconds since the epoch.
    pub now: i64,
    /// Seconds `exp` and `nbf` may be off by (clock skew).
    pub leeway: i64,
    pub issuer: Option<&'r str>,
    pub audience: Option<&'r str>,
}

/// The claims of `token`, when its header names `alg`, it is signed with
/// `alg` by `key`, and its claims keep `rules`: `exp` and `sub` present,
/// not expired, not before its `nbf`, and the issuer and audience when the
/// rules name them. The signature is checked first: nothing unsigned is
/// read as a claim.
pub fn verify(
    token: &str,
    alg: Algorithm,
    key: Key<'_>,
    rules: &Rules<'_>,
) -> Result<HashMap<String, Value>, TokenError> {
    if header(token)?.alg != alg.name() {
        return Err(TokenError::UnsupportedAlgorithm(alg.to_string()));
    }
    let (_, payload, signature) = parts(token)?;
    let signed = &token[..token.len() - signature.len() - 1];
    let signature = decode(signature, "the signature is not base64url")?;
    check_signature(signed.as_bytes(), &signature, alg, key)?;
    let claims: HashMap<String, Value> =
        serde_json::from_slice(&decode(payload, "the payload is not base64url")?)
            .map_err(|_| TokenError::Malformed("the payload is not a JSON object"))?;
    check_claims(&claims, rules)?;
    Ok(claims)
}

/// An HS256 token of `claims`, for local development.
pub fn mint_hs256(secret: &[u8], claims: &impl Serialize) -> Result<String, serde_json::Error> {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
    let signed = format!("{header}.{payload}");
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, secret),
        signed.as_bytes(),
    );
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref())))
}

fn parts(token: &str) -> Result<(&str, &str, &str), TokenError> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None) => Ok((header, payload, signature)),
        _ => Err(TokenError::Malformed(
            "a token is three parts joined by `.`",
        )),
    }
}

fn decode(part: &str, what: &'static str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed(what))
}

fn check_signature(
    signed: &[u8],
    signature: &[u8],
    alg: Algorithm,
    key: Key<'_>,
) -> Result<(), TokenError> {
    let verified = match key {
        Key::Hmac(key) => {
            let expected = match alg {
                Algorithm::HS256 => hmac::HMAC_SHA256,
                Algorithm::HS384 => hmac::HMAC_SHA384,
                Algorithm::HS512 => hmac::HMAC_SHA512,
                other => return Err(TokenError::UnsupportedAlgorithm(other.to_string())),
            };
            if key.algorithm() != expected {
                return Err(TokenError::UnsupportedAlgorithm(alg.to_string()));
            }
            hmac::verify(key, signed, signature)
        }
        Key::Public(jwk) => public_key_check(jwk, alg)?.verify(signed, signature),
    };
    verified.map_err(|_| TokenError::InvalidSignature)
}

/// A public key ready to check `alg`, when the JWK is of its family.
enum PublicCheck {
    Rsa(&'static signature::RsaParameters, Vec<u8>, Vec<u8>),
    Point(&'static dyn signature::VerificationAlgorithm, Vec<u8>),
}

impl PublicCheck {
    fn verify(&self, signed: &[u8], sig: &[u8]) -> Result<(), ring::error::Unspecified> {
        match self {
            Self::Rsa(params, n, e) => {
                signature::RsaPublicKeyComponents { n, e }.verify(params, signed, sig)
            }
            Self::Point(alg, point) => {
                signature::UnparsedPublicKey::new(*alg, point).verify(signed, sig)
            }
        }
    }
}

fn public_key_check(jwk: &Jwk, alg: Algorithm) -> Result<PublicCheck, TokenError> {
    if jwk.usage.as_deref().is_some_and(|usage| usage != "sig") {
        return Err(TokenError::UnusableKey(
            "the key is not for signatures (`use`)",
        ));
    }
    if jwk.alg.as_deref().is_some_and(|named| named != alg.name()) {
        return Err(TokenError::UnsupportedAlgorithm(alg.to_string()));
    }
    let member = |value: &Option<String>, name: &'static str| {
        let text = value.as_deref().ok_or(TokenError::UnusableKey(name))?;
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| TokenError::UnusableKey(name))
    };
    let curve = |name: &str| jwk.crv.as_deref() == Some(name);
    match (jwk.kty.as_str(), alg) {
        ("RSA", Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
        | ("RSA", Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512) => {
            let params: &'static signature::RsaParameters = match alg {
                Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            // ring takes the integers without leading zeros; a JWK may pad them.
            let unpadded = |bytes: Vec<u8>| {
                let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
                bytes[start..].to_vec()
            };
            Ok(PublicCheck::Rsa(
                params,
                unpadded(member(&jwk.n, "an RSA key needs `n`")?),
                unpadded(member(&jwk.e, "an RSA key needs `e`")?),
            ))
        }
        ("EC", Algorithm::ES256) if curve("P-256") => ec_point(
            &signature::ECDSA_P256_SHA256_FIXED,
            32,
            member(&jwk.x, "an EC key needs `x`")?,
            member(&jwk.y, "an EC key needs `y`")?,
        ),
        ("EC", Algorithm::ES384) if curve("P-384") => ec_point(
            &signature::ECDSA_P384_SHA384_FIXED,
            48,
            member(&jwk.x, "an EC key needs `x`")?,
            member(&jwk.y, "an EC key needs `y`")?,
        ),
        ("OKP", Algorithm::EdDSA) if curve("Ed25519") => {
            let x = member(&jwk.x, "an Ed25519 key needs `x`")?;
            if x.len() != signature::ED25519_PUBLIC_KEY_LEN {
                return Err(TokenError::UnusableKey("an Ed25519 `x` is 32 bytes"));
            }
            Ok(PublicCheck::Point(&signature::ED25519, x))
        }
        _ => Err(TokenError::UnsupportedAlgorithm(alg.to_string())),
    }
}

/// The uncompressed point (SEC 1: `04 ‖ x ‖ y`) of a JWK's coordinates.
fn ec_point(
    alg: &'static signature::EcdsaVerificationAlgorithm,
    size: usize,
    x: Vec<u8>,
    y: Vec<u8>,
) -> Result<PublicCheck, TokenError> {
    if x.len() != size || y.len() != size {
        return Err(TokenError::UnusableKey(
            "an EC key's `x` and `y` are the curve's size",
        ));
    }
    let mut point = Vec::with_capacity(1 + 2 * size);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(PublicCheck::Point(alg, point))
}

/// The latest NumericDate taken, 2^64 seconds: what `jsonwebtoken` read
/// as an unsigned 64-bit number; a larger `exp` would never expire.
const LAST_TIME: f64 = 18_446_744_073_709_551_616.0;

fn check_claims(claims: &HashMap<String, Value>, rules: &Rules<'_>) -> Result<(), TokenError> {
    // A NumericDate (RFC 7519): seconds since the epoch, fractions allowed.
    let time = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_f64()
            .filter(|t| (0.0..LAST_TIME).contains(t))
            .map(Some)
            .ok_or(TokenError::InvalidClaim(name)),
    };
    let now = rules.now as f64;
    let leeway = rules.leeway as f64;
    let exp = time("exp")?.ok_or(TokenError::MissingRequiredClaim("exp"))?;
    match claims.get("sub") {
        None => return Err(TokenError::MissingRequiredClaim("sub")),
        Some(Value::String(sub)) if !sub.is_empty() => {}
        Some(_) => return Err(TokenError::InvalidClaim("sub")),
    }
    if exp < now - leeway {
        return Err(TokenError::ExpiredSignature);
    }
    if time("nbf")?.is_some_and(|nbf| nbf > now + leeway) {
        return Err(TokenError::ImmatureSignature);
    }
    if let Some(issuer) = rules.issuer {
        match claims.get("iss") {
            None => return Err(TokenError::MissingRequiredClaim("iss")),
            Some(Value::String(iss)) if iss == issuer => {}
            Some(_) => return Err(TokenError::InvalidIssuer),
        }
    }
    if let Some(audience) = rules.audience {
        // As API Gateway's JWT authorizer reads it: `aud` when the token
        // has one, else `client_id` (Cognito's access tokens carry no `aud`).
        let held = match (claims.get("aud"), claims.get("client_id")) {
            (Some(Value::String(aud)), _) => aud == audience,
            (Some(Value::Array(auds)), _) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
            (Some(_), _) => false,
            (None, Some(Value::String(client))) => client == audience,
            (None, Some(_)) => false,
            (None, None) => return Err(TokenError::MissingRequiredClaim("aud")),
        };
        if !held {
            return Err(TokenError::InvalidAudience);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
