//! The verifier against tokens minted by `jsonwebtoken`, an independent
//! implementation, with keys made for these tests only.

use super::*;
use jsonwebtoken::{EncodingKey, Header as MintHeader};
use serde_json::json;

const RSA_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAlC+0+lVawcKFGw/5fArrQz2yhgNS2ECVEMPBof3hDbcf80OD
xKhbfyUwJ4F8BIiMh9T+WlBvjVx+tPTvY7BuqrB85UCksWc5HCpq5l/Ga6BiWJ+N
QhVZA8H9W7gXNGhtB6vgm2Fa4ZyMoSHwEl3ZralC9n5B+TilFx2xYiBrR7ApstX8
VWsnCkZ2ZUQLQ+0bHPA59nGIAtJeq/cN1RLzzSK+T9ZYzcmp0KuQt7gapmc2eh6/
AhZwhjylLnGcJGtzWUfFxrRrSqnyiPk/joSvBD8OtR1i3GwPtwQTKzzd7DflDZQ9
KpifYzB+1vpHw1bfcYVCX+mGNNLUNiero7gwsQIDAQABAoIBABtvjMCXan76uoWk
6sJETEQOCX5F4cH/jQnGUJSjKlaNe9kgfCY+LHiJJFYAI3u8Y1ZnwTLr9wdTY3Mx
8RuCKC8qj2krk4Jz888q7FFcVKKLFoJFghQE2072jOe9GPC/T8ZulF54QykHwMK5
g5cG8L02HBuCi0ju66Pwv62FBo/GPgbMgL3TrrOgoJ2p3kaiP9CSzR0D9TBDW7K4
zobl4x8jgRZf9Fwiy8MPD5jPvMJymv3vvPB1hsG9K1FmjPg7M7Ed9EhxesmdO9Ad
kC2YFABjMpaSUe0tJvnyj4wVmrPfy6H3nSFHgfbnICdNSKlzGi4UjVgWygz2bYVD
vepTxOUCgYEAw1FD2aG1q2F2VxdqIRyMphpVhuhpu0CfTSb0+P3JtITijaTxAAav
lCtpADQrUUZdS18s6nw0SNU/aBVw9A/1nBQ2FcmaQnnNVlAoSbPDQctMkTyvBZ2f
NVgtmf3EPuKFBIAs5b9KBdGT20yI7mb3nqmP8+lAUNFmr+0qliJ6A4UCgYEAwjnU
8SweKTpDG4Qgal4NW5MlPJZOr3biHu5YkBeZtxklevZKEd7BQ20nNRp6sCtixPQe
gL5E3m14qWtkyo8XAD2yjXgNMexLUbYt0AGfoXDwBatXy2TJKww7fHtQolcXmCy/
a0ZZxYCa1sov3HBaDLOgD5ffOOKmcQ6sSOSuEj0CgYBsJpZ8bqeKs1f015lDpmxX
GWPcZNsO/bR34ydorBbBZ4ePSRLNoeYdFIB6xWhrA5xrPNNBL+8/mR0YBC9cZW3p
s+NS4yQQxSMnNRFp5ikrSGgoT8LWSDY9MotlpnfBHmrrWBIEUYyqdib6GoIECG36
pAd61uBvH9RNe/TF12dahQKBgQCoDSPrXLHoGCoyZ7sobaJ/Jq0kZCVG+sUh4Dau
zkzJOS/N2cYy+hscfRhcgUHApnl6UoMGABtUnUG2zV5TSUWshrW0ZDh+hqaQ1+GB
xbXaGP8E2MFJEjZhUd8ykPwuys52c9lYN3G7StAuopiQ0oGH1e/bLhwNe0ZqMjjt
hTf8PQKBgAQct30ViJeFb8bILO0GJq3kUX0/lAf9jJakQLM/LxpNx/mhD3S6PqLb
7ChtIILhvNMh2RZBLsjs3mskDEUSIOGOLs8YSYmDNkses7mE+tuqb7qKbq+CHrSD
le9sCERvEUD24h80LSHXS+u1uruBba8bqg2bbfcQMOK5TAMZ2FR6
-----END RSA PRIVATE KEY-----";
const RSA_N: &str = "lC-0-lVawcKFGw_5fArrQz2yhgNS2ECVEMPBof3hDbcf80ODxKhbfyUwJ4F8BIiMh9T-WlBvjVx-tPTvY7BuqrB85UCksWc5HCpq5l_Ga6BiWJ-NQhVZA8H9W7gXNGhtB6vgm2Fa4ZyMoSHwEl3ZralC9n5B-TilFx2xYiBrR7ApstX8VWsnCkZ2ZUQLQ-0bHPA59nGIAtJeq_cN1RLzzSK-T9ZYzcmp0KuQt7gapmc2eh6_AhZwhjylLnGcJGtzWUfFxrRrSqnyiPk_joSvBD8OtR1i3GwPtwQTKzzd7DflDZQ9KpifYzB-1vpHw1bfcYVCX-mGNNLUNiero7gwsQ";
const RSA_1024_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQDJDDPwIt99VgJ8T3qeg9LORfBV50OBiepJPiOilKcWMc4iWqUS
jaxpISCbLKWc6ryH/W8vSw7GCARNfr+sj4xxVv0muLOa8nUj7MXJc04eNJJlw7nh
NhuCLy0Te/Z+FJIPs6BNLL03mEeVfAcdBi1P7k48gGH1aeHbbrmO2KOukwIDAQAB
AoGBALelzvfHUzExVPnqvA56SiEkX+KIavC0Y2/eNDz53xr2Cd71wB4PjfNGUHuO
sAWDow3x4hNoU6lvf0auxjXBtr3ezqe5A5Xq2FC8usEv737iZeVtn7qLhtPk+1oj
6ZdEoVK72Sx++UQQxVfYpXqwJKVM0oi6DbQR2FWbe9972iRRAkEA6oVouOP1+0SD
kzPsmzn9Qa1E8mIBxpUuMhliRgRUuojjOEdq+wozQLU9JorxcoSn/mlbuG8mnd7m
dWriUTniOwJBANt1+UuyYc38pl3OM5KiEFKzse5uDZ07fKlCt9IbzInHL07Gna3G
3PCw41A3G1MBEhXcEiGU9+k8/ibL4kDOB4kCQDlb6dIWx0nuZvPw5jTNCRkwJMXX
nLGSORs9xCB13LdG1bQlG5BM3V49NbigkQ8+TMxXvnwsi1hfdSRQwQu2yZMCQQDL
9pgMRyxpEi/YrOT3mdGL22A6FWRnxjq04MIQ7y8ouct47lTrhhAfTnblPWISwcL6
N/9N4LKLvdkDW6fazODpAkB1bzkL3SsrNniwkP+VVwYZLEvGVyMQSe29L6ONKH+d
psBzotaWVFKsl273pnbobxN5AP7+aagAqAOLwiQDjqh3
-----END RSA PRIVATE KEY-----";
const RSA_1024_N: &str = "yQwz8CLffVYCfE96noPSzkXwVedDgYnqST4jopSnFjHOIlqlEo2saSEgmyylnOq8h_1vL0sOxggETX6_rI-McVb9JrizmvJ1I-zFyXNOHjSSZcO54TYbgi8tE3v2fhSSD7OgTSy9N5hHlXwHHQYtT-5OPIBh9Wnh2265jtijrpM";
const P384_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDDe8XpWTKzhqsPaQSb8
zqZLysIrc6GdaqTQH5wH4Y5DNAtTTU9TLUMdtNOY330W5w6hZANiAAT3yyhZj65v
U28ZBjKPeFJPp2e/GgR3Yd2qktF3WBqCFv/CPN5j7U5p946hUZItZsLq58CIWTo5
o5R/ucfVUuCZN51Za0mmNs8LImmhuJcF3hqPsk6/8N5BsvVNdoR2LZU=
-----END PRIVATE KEY-----";
const P384_X: &str = "98soWY-ub1NvGQYyj3hST6dnvxoEd2HdqpLRd1gaghb_wjzeY-1OafeOoVGSLWbC";
const P384_Y: &str = "6ufAiFk6OaOUf7nH1VLgmTedWWtJpjbPCyJpobiXBd4aj7JOv_DeQbL1TXaEdi2V";
/// The P-256 key of `auth.rs`'s tests.
const P256_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg381yIVLmI4TToNvT
c+aliP/daHGokbS8YAHm8Z+YeAqhRANCAAQ5trW+PDplfxb6odOQRtdvH2jnb/Nl
crm/HJrqP948A4XF5FyBPX925I4IN0VbK23q3fFMGFeOuriCj2J3qXP4
-----END PRIVATE KEY-----";
const P256_X: &str = "Oba1vjw6ZX8W-qHTkEbXbx9o52_zZXK5vxya6j_ePAM";
const P256_Y: &str = "hcXkXIE9f3bkjgg3RVsrberd8UwYV466uIKPYnepc_g";
const ED25519_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIHYKcbKTS3zpDOLeWctvkFEUfGgKS6jByrcVZki8jEf1
-----END PRIVATE KEY-----";
const ED25519_X: &str = "XzYkLPDak3FVzY3XdG2F5vB0xgIRXTn3C1LnyVp0R0I";

const NOW: i64 = 1_800_000_000;

fn rules() -> Rules<'static> {
    Rules {
        now: NOW,
        leeway: 5,
        issuer: Some("https://issuer.example"),
        audience: Some("tel"),
    }
}

fn claims() -> Value {
    json!({ "sub": "u-1", "exp": NOW + 60, "iss": "https://issuer.example", "aud": "tel" })
}

fn jwk(value: Value) -> Jwk {
    serde_json::from_value(value).unwrap()
}

fn rsa_jwk() -> Jwk {
    jwk(json!({ "kty": "RSA", "kid": "r", "n": RSA_N, "e": "AQAB" }))
}

fn p384_jwk() -> Jwk {
    jwk(json!({ "kty": "EC", "crv": "P-384", "x": P384_X, "y": P384_Y }))
}

fn p256_jwk() -> Jwk {
    jwk(json!({ "kty": "EC", "crv": "P-256", "x": P256_X, "y": P256_Y }))
}

fn ed25519_jwk() -> Jwk {
    jwk(json!({ "kty": "OKP", "crv": "Ed25519", "x": ED25519_X }))
}

fn mint(alg: jsonwebtoken::Algorithm, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&MintHeader::new(alg), claims, key).unwrap()
}

fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_der(&der(RSA_KEY))
}

/// The DER inside a PEM block.
fn der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// The same token with one claim changed and the signature kept.
fn tampered(token: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json!({ "sub": "admin", "exp": NOW + 60, "iss": "https://issuer.example", "aud": "tel" })).unwrap());
    parts[1] = &forged;
    parts.join(".")
}

/// `token` checked as `alg` with the secret `b"secret"`.
fn with_secret(token: &str, alg: Algorithm) -> Result<HashMap<String, Value>, TokenError> {
    let secret = hmac::Key::new(hmac::HMAC_SHA256, b"secret");
    verify(token, alg, Key::Hmac(&secret), &rules())
}

fn check(token: &str, key: &Jwk) -> Result<HashMap<String, Value>, TokenError> {
    let alg: Algorithm = header(token)?.alg.parse()?;
    verify(token, alg, Key::Public(key), &rules())
}

#[test]
fn every_public_key_family_verifies_what_it_signed_and_nothing_changed() {
    use jsonwebtoken::Algorithm as Mint;
    let cases = [
        (Mint::RS256, rsa_key(), rsa_jwk()),
        (Mint::RS384, rsa_key(), rsa_jwk()),
        (Mint::RS512, rsa_key(), rsa_jwk()),
        (Mint::PS256, rsa_key(), rsa_jwk()),
        (Mint::PS384, rsa_key(), rsa_jwk()),
        (Mint::PS512, rsa_key(), rsa_jwk()),
        (
            Mint::ES256,
            EncodingKey::from_ec_der(&der(P256_KEY)),
            p256_jwk(),
        ),
        (
            Mint::ES384,
            EncodingKey::from_ec_der(&der(P384_KEY)),
            p384_jwk(),
        ),
        (
            Mint::EdDSA,
            EncodingKey::from_ed_der(&der(ED25519_KEY)),
            ed25519_jwk(),
        ),
    ];
    for (alg, key, public) in cases {
        let token = mint(alg, &key, &claims());
        let verified = check(&token, &public).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(verified["sub"], "u-1", "{alg:?}");
        assert_eq!(
            check(&tampered(&token), &public),
            Err(TokenError::InvalidSignature),
            "{alg:?}"
        );
    }
}

#[test]
fn an_rsa_modulus_with_a_leading_zero_is_the_same_key() {
    let mut n = vec![0u8];
    n.extend(URL_SAFE_NO_PAD.decode(RSA_N).unwrap());
    let padded = jwk(json!({ "kty": "RSA", "n": URL_SAFE_NO_PAD.encode(n), "e": "AAEAAQ" }));
    let token = mint(jsonwebtoken::Algorithm::RS256, &rsa_key(), &claims());
    assert!(check(&token, &padded).is_ok());
}

#[test]
fn a_key_checks_only_its_own_family_curve_algorithm_and_use() {
    let rs256 = mint(jsonwebtoken::Algorithm::RS256, &rsa_key(), &claims());
    let es384 = mint(
        jsonwebtoken::Algorithm::ES384,
        &EncodingKey::from_ec_der(&der(P384_KEY)),
        &claims(),
    );
    let unsupported = |alg: &str| Err(TokenError::UnsupportedAlgorithm(alg.into()));
    // An RSA token against an EC key, and the other way round.
    assert_eq!(check(&rs256, &p384_jwk()), unsupported("RS256"));
    assert_eq!(check(&es384, &rsa_jwk()), unsupported("ES384"));
    // The curve must be the algorithm's.
    let p256_named = jwk(json!({ "kty": "EC", "crv": "P-256", "x": P384_X, "y": P384_Y }));
    assert_eq!(check(&es384, &p256_named), unsupported("ES384"));
    let es256 = mint(
        jsonwebtoken::Algorithm::ES256,
        &EncodingKey::from_ec_der(&der(P256_KEY)),
        &claims(),
    );
    let p384_named = jwk(json!({ "kty": "EC", "crv": "P-384", "x": P256_X, "y": P256_Y }));
    assert_eq!(check(&es256, &p384_named), unsupported("ES256"));
    // The algorithm checked is the header's: an RS256 token is not checked as PS256.
    assert_eq!(
        verify(&rs256, Algorithm::PS256, Key::Public(&rsa_jwk()), &rules()),
        unsupported("PS256")
    );
    // An HMAC token is never checked against a public key.
    let hs256 = mint_hs256(RSA_N.as_bytes(), &claims()).unwrap();
    assert_eq!(check(&hs256, &rsa_jwk()), unsupported("HS256"));
    // Coordinates of the wrong size are no key.
    let short = URL_SAFE_NO_PAD.encode([7u8; 31]);
    let short_ec = jwk(json!({ "kty": "EC", "crv": "P-256", "x": short, "y": P256_Y }));
    assert!(matches!(
        check(&es256, &short_ec),
        Err(TokenError::UnusableKey(_))
    ));
    let eddsa = mint(
        jsonwebtoken::Algorithm::EdDSA,
        &EncodingKey::from_ed_der(&der(ED25519_KEY)),
        &claims(),
    );
    let short_ed = jwk(json!({ "kty": "OKP", "crv": "Ed25519", "x": short }));
    assert!(matches!(
        check(&eddsa, &short_ed),
        Err(TokenError::UnusableKey(_))
    ));
    // A key that names its algorithm checks no other.
    let pss_only = jwk(json!({ "kty": "RSA", "alg": "PS256", "n": RSA_N, "e": "AQAB" }));
    assert_eq!(check(&rs256, &pss_only), unsupported("RS256"));
    // An encryption key checks no signature.
    let enc = jwk(json!({ "kty": "RSA", "use": "enc", "n": RSA_N, "e": "AQAB" }));
    assert!(matches!(
        check(&rs256, &enc),
        Err(TokenError::UnusableKey(_))
    ));
    // A public key is not an HMAC secret, nor the other way round.
    let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, RSA_N.as_bytes());
    assert_eq!(
        verify(&rs256, Algorithm::RS256, Key::Hmac(&hmac_key), &rules()),
        unsupported("RS256")
    );
}

#[test]
fn rsa_keys_under_2048_bits_are_refused() {
    let weak = EncodingKey::from_rsa_der(&der(RSA_1024_KEY));
    let token = mint(jsonwebtoken::Algorithm::RS256, &weak, &claims());
    let public = jwk(json!({ "kty": "RSA", "n": RSA_1024_N, "e": "AQAB" }));
    assert_eq!(check(&token, &public), Err(TokenError::InvalidSignature));
}

#[test]
fn hmac_tokens_verify_with_their_secret_only() {
    let ours = mint_hs256(b"secret", &claims()).unwrap();
    let theirs = mint(
        jsonwebtoken::Algorithm::HS256,
        &EncodingKey::from_secret(b"secret"),
        &claims(),
    );
    for token in [&ours, &theirs] {
        assert_eq!(header(token).unwrap().alg, "HS256");
        assert!(with_secret(token, Algorithm::HS256).is_ok());
        assert_eq!(
            with_secret(&tampered(token), Algorithm::HS256),
            Err(TokenError::InvalidSignature)
        );
    }
    let other = hmac::Key::new(hmac::HMAC_SHA256, b"other");
    assert_eq!(
        verify(&ours, Algorithm::HS256, Key::Hmac(&other), &rules()),
        Err(TokenError::InvalidSignature)
    );
    // The key's hash is the algorithm's: an HS384 token is not checked with an HS256 key.
    let hs384 = mint(
        jsonwebtoken::Algorithm::HS384,
        &EncodingKey::from_secret(b"secret"),
        &claims(),
    );
    assert_eq!(
        with_secret(&hs384, Algorithm::HS384),
        Err(TokenError::UnsupportedAlgorithm("HS384".into()))
    );
}

#[test]
fn malformed_tokens_and_unknown_algorithms_are_refused() {
    let secret = hmac::Key::new(hmac::HMAC_SHA256, b"secret");
    let token = mint_hs256(b"secret", &claims()).unwrap();
    let head = token.split('.').next().unwrap();
    // Signed as they are, so that only their form is wrong.
    let signed = |text: &str| {
        let tag = hmac::sign(&secret, text.as_bytes());
        format!("{text}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    };
    let not_an_object = URL_SAFE_NO_PAD.encode(b"[1]");
    let payload = token.split('.').nth(1).unwrap();
    for bad in [
        String::new(),
        "a.b".into(),
        head.into(),
        format!("{token}.x"),
        format!("{token}="),
        signed(&format!("{head}.%%%")),
        signed(&format!("{head}.{not_an_object}")),
        // base64url without padding, in every part.
        signed(&format!("{head}=.{payload}")),
        signed(&format!("{head}.{payload}=")),
    ] {
        assert!(
            matches!(
                with_secret(&bad, Algorithm::HS256),
                Err(TokenError::Malformed(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(
        "none".parse::<Algorithm>(),
        Err(TokenError::UnsupportedAlgorithm("none".into()))
    );
    assert!(matches!(header("e30.e30.x"), Err(TokenError::Malformed(_))));
    // A header with extensions the verifier must understand, or one naming
    // another algorithm than the one checked, is refused.
    for head in [
        r#"{"alg":"HS256","crit":["exp"]}"#,
        r#"{"alg":"HS256","crit":null}"#,
        r#"{"alg":256}"#,
        r#"{"alg":"HS256","kid":7}"#,
        r#"{"kid":"k"}"#,
    ] {
        let with = signed(&format!("{}.{payload}", URL_SAFE_NO_PAD.encode(head)));
        assert!(
            matches!(
                with_secret(&with, Algorithm::HS256),
                Err(TokenError::Malformed(_))
            ),
            "{head}"
        );
    }
    assert_eq!(
        with_secret(&token, Algorithm::HS384),
        Err(TokenError::UnsupportedAlgorithm("HS384".into()))
    );
}

#[test]
fn claims_are_checked_after_the_signature() {
    let secret = hmac::Key::new(hmac::HMAC_SHA256, b"secret");
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = claims();
        change(&mut claims);
        let token = mint_hs256(b"secret", &claims).unwrap();
        with_secret(&token, Algorithm::HS256).map(|_| ())
    };
    assert_eq!(with(&|_| {}), Ok(()));
    let drop = |name: &'static str| {
        move |c: &mut Value| {
            c.as_object_mut().unwrap().remove(name);
        }
    };
    assert_eq!(
        with(&drop("exp")),
        Err(TokenError::MissingRequiredClaim("exp"))
    );
    assert_eq!(
        with(&drop("sub")),
        Err(TokenError::MissingRequiredClaim("sub"))
    );
    assert_eq!(
        with(&drop("iss")),
        Err(TokenError::MissingRequiredClaim("iss"))
    );
    assert_eq!(
        with(&drop("aud")),
        Err(TokenError::MissingRequiredClaim("aud"))
    );
    assert_eq!(
        with(&|c| c["exp"] = json!("soon")),
        Err(TokenError::InvalidClaim("exp"))
    );
    // Expiry and not-before, each with five seconds' leeway.
    assert_eq!(with(&|c| c["exp"] = json!(NOW - 5)), Ok(()));
    assert_eq!(
        with(&|c| c["exp"] = json!(NOW - 6)),
        Err(TokenError::ExpiredSignature)
    );
    assert_eq!(with(&|c| c["nbf"] = json!(NOW + 5)), Ok(()));
    assert_eq!(
        with(&|c| c["nbf"] = json!(NOW + 6)),
        Err(TokenError::ImmatureSignature)
    );
    assert_eq!(
        with(&|c| c["nbf"] = json!("later")),
        Err(TokenError::InvalidClaim("nbf"))
    );
    assert_eq!(
        with(&|c| c["iss"] = json!("https://evil.example")),
        Err(TokenError::InvalidIssuer)
    );
    assert_eq!(
        with(&|c| c["iss"] = json!(["https://issuer.example"])),
        Err(TokenError::InvalidIssuer)
    );
    assert_eq!(with(&|c| c["aud"] = json!(["other", "tel"])), Ok(()));
    assert_eq!(
        with(&|c| c["aud"] = json!(["other"])),
        Err(TokenError::InvalidAudience)
    );
    assert_eq!(
        with(&|c| c["aud"] = json!(7)),
        Err(TokenError::InvalidAudience)
    );
    // Rules without an issuer or audience do not read them.
    let open = Rules {
        issuer: None,
        audience: None,
        ..rules()
    };
    let token = mint_hs256(b"secret", &json!({ "sub": "u-1", "exp": NOW + 60 })).unwrap();
    assert!(verify(&token, Algorithm::HS256, Key::Hmac(&secret), &open).is_ok());
}
