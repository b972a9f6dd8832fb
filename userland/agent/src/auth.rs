//! The agent's web config (`--web-config FILE`, TOML, modelled on node_exporter's
//! exporter-toolkit web-config): optional TLS and optional bearer / basic authentication.
//!
//! ```toml
//! [tls_server_config]
//! cert_file = "/etc/procpulse/agent.crt"   # PEM, leaf first, then the chain
//! key_file  = "/etc/procpulse/agent.key"   # PEM, PKCS#8, PKCS#1 or SEC1
//!
//! # Bearer tokens, stored as the lowercase hex SHA-256 of the token (never in clear):
//! #   printf %s "$TOKEN" | sha256sum
//! bearer_token_sha256 = ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
//!
//! # Basic users: bcrypt hashes, as node_exporter (`htpasswd -nbBC 10 "" PASS | tr -d ':\n'`).
//! [basic_auth_users]
//! prometheus = "$2y$10$..."
//! ```
//!
//! When any token or user is configured, every route except `/healthz` and `/readyz`
//! needs credentials (`Authorization: Bearer …` or `Basic …`); a missing or wrong one is
//! a 401 in the JSON error shape with `WWW-Authenticate`. Token digests are compared in
//! constant time (`subtle`); bcrypt verification is constant time by construction and a
//! verified `user:password` pair is remembered by its SHA-256 digest so that a scrape
//! does not pay bcrypt's cost every time. Credentials are never logged.

use base64::Engine;
use procpulse_service::ApiError;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
use warp::Filter;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

/// Most remembered verified basic credentials (beyond that the memory is cleared).
const VERIFIED_CACHE: usize = 64;

/// TLS files of the web config.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

/// The parsed `--web-config` file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Serve HTTPS with these files.
    #[serde(default)]
    pub tls_server_config: Option<TlsFiles>,
    /// Lowercase hex SHA-256 digests of the accepted bearer tokens.
    #[serde(default)]
    pub bearer_token_sha256: Vec<String>,
    /// user → bcrypt hash.
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
}

/// Why a web config is unusable.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The file is not valid TOML of the expected shape.
    #[error("parsing {0}: {1}")]
    Parse(PathBuf, String),
    /// A value is invalid.
    #[error("{0}")]
    Invalid(String),
}

impl WebConfig {
    /// Reads and validates a web config file. Relative TLS paths are resolved against
    /// the file's directory (so a systemd credential directory works).
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| WebConfigError::Read(path.into(), e))?;
        let mut c = Self::parse(&text).map_err(|e| match e {
            WebConfigError::Parse(_, m) => WebConfigError::Parse(path.into(), m),
            other => other,
        })?;
        if let (Some(tls), Some(dir)) = (c.tls_server_config.as_mut(), path.parent()) {
            for p in [&mut tls.cert_file, &mut tls.key_file] {
                if p.is_relative() {
                    *p = dir.join(&*p);
                }
            }
        }
        Ok(c)
    }

    /// Parses and validates the TOML text.
    pub fn parse(text: &str) -> Result<Self, WebConfigError> {
        let c: WebConfig = toml::from_str(text)
            .map_err(|e| WebConfigError::Parse(PathBuf::new(), e.to_string()))?;
        for d in &c.bearer_token_sha256 {
            if d.len() != 64 || !d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(WebConfigError::Invalid(
                    "bearer_token_sha256: each entry must be 64 lowercase hex digits (sha256sum of the token)".into(),
                ));
            }
        }
        for (user, hash) in &c.basic_auth_users {
            if user.is_empty() || user.contains(':') {
                return Err(WebConfigError::Invalid(format!(
                    "basic_auth_users: invalid user name {user:?}"
                )));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(WebConfigError::Invalid(format!(
                    "basic_auth_users.{user}: not a bcrypt hash"
                )));
            }
        }
        Ok(c)
    }

    /// Whether requests need credentials.
    pub fn auth_enabled(&self) -> bool {
        !self.bearer_token_sha256.is_empty() || !self.basic_auth_users.is_empty()
    }
}

/// The credential check built from a [`WebConfig`].
#[derive(Debug)]
pub struct Authenticator {
    tokens: Vec<[u8; 32]>,
    users: BTreeMap<String, String>,
    /// A hash of the users' cost, verified for unknown user names.
    dummy: String,
    verified: Mutex<HashSet<[u8; 32]>>,
}

/// The outcome of a failed check (what the 401 says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No `Authorization` header.
    Missing,
    /// A header with wrong credentials or an unknown scheme.
    Invalid,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A valid bcrypt hash with the cost of the first configured user, so that an unknown
/// user name costs as much as a known one.
fn dummy_hash(c: &WebConfig) -> String {
    let cost = c
        .basic_auth_users
        .values()
        .find_map(|h| h.parse::<bcrypt::HashParts>().ok())
        .map_or(bcrypt::DEFAULT_COST, |p| p.get_cost());
    bcrypt::hash("procpulse-agent-dummy", cost).unwrap_or_default()
}

fn unhex(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    out
}

impl Authenticator {
    /// `None` when the config asks for no authentication.
    pub fn new(c: &WebConfig) -> Option<Arc<Self>> {
        c.auth_enabled().then(|| {
            Arc::new(Authenticator {
                tokens: c.bearer_token_sha256.iter().map(|d| unhex(d)).collect(),
                users: c.basic_auth_users.clone(),
                dummy: dummy_hash(c),
                verified: Mutex::new(HashSet::new()),
            })
        })
    }

    /// Whether the schemes offered include bearer / basic.
    fn schemes(&self) -> &'static str {
        match (self.tokens.is_empty(), self.users.is_empty()) {
            (false, false) => r#"Bearer realm="procpulse-agent", Basic realm="procpulse-agent""#,
            (false, true) => r#"Bearer realm="procpulse-agent""#,
            _ => r#"Basic realm="procpulse-agent""#,
        }
    }

    fn check_token(&self, token: &str) -> bool {
        let d = sha256(token.as_bytes());
        // Every configured digest is compared (no early exit), each in constant time.
        self.tokens
            .iter()
            .fold(subtle::Choice::from(0), |acc, t| acc | t.ct_eq(&d))
            .into()
    }

    fn check_basic(&self, encoded: &str) -> bool {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(raw) = std::str::from_utf8(&raw) else {
            return false;
        };
        let Some((user, pass)) = raw.split_once(':') else {
            return false;
        };
        let key = sha256(raw.as_bytes());
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.contains(&key) {
            return true;
        }
        drop(verified);
        // An unknown user still pays one bcrypt verification, so timing does not tell
        // which user names exist.
        let (hash, known) = match self.users.get(user) {
            Some(h) => (h.as_str(), true),
            None => (self.dummy.as_str(), false),
        };
        let ok = bcrypt::verify(pass, hash).unwrap_or(false) && known;
        if ok {
            verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if verified.len() >= VERIFIED_CACHE {
                verified.clear();
            }
            verified.insert(key);
        }
        ok
    }

    /// Checks an `Authorization` header value.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), Denied> {
        let Some(h) = authorization else {
            return Err(Denied::Missing);
        };
        let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h, ""));
        let ok = if scheme.eq_ignore_ascii_case("bearer") && !self.tokens.is_empty() {
            self.check_token(rest.trim())
        } else if scheme.eq_ignore_ascii_case("basic") && !self.users.is_empty() {
            self.check_basic(rest)
        } else {
            false
        };
        if ok { Ok(()) } else { Err(Denied::Invalid) }
    }
}

/// The rejection carried by a failed check; [`recover`] turns it into the 401.
#[derive(Debug)]
pub struct Unauthorized {
    denied: Denied,
    challenge: &'static str,
}

impl warp::reject::Reject for Unauthorized {}

/// A filter that passes when `auth` is `None` or the request's credentials are valid.
pub fn require(
    auth: Option<Arc<Authenticator>>,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>(header::AUTHORIZATION.as_str())
        .and_then(move |h: Option<String>| {
            let auth = auth.clone();
            async move {
                let Some(a) = auth else { return Ok(()) };
                // bcrypt costs milliseconds: off the reactor thread.
                let a2 = a.clone();
                let r = tokio::task::spawn_blocking(move || a2.check(h.as_deref()))
                    .await
                    .unwrap_or(Err(Denied::Invalid));
                r.map_err(|denied| {
                    warp::reject::custom(Unauthorized {
                        denied,
                        challenge: a.schemes(),
                    })
                })
            }
        })
        .untuple_one()
}

/// Answers [`Unauthorized`] with 401 + `WWW-Authenticate` in the JSON error shape and
/// every other rejection like `procpulse_service::recover`.
pub async fn recover(rejection: warp::Rejection) -> Result<Response, std::convert::Infallible> {
    use warp::Reply;
    if let Some(u) = rejection.find::<Unauthorized>() {
        let message = match u.denied {
            Denied::Missing => "authentication required",
            Denied::Invalid => "invalid credentials",
        };
        let mut res =
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(u.challenge),
        );
        return Ok(res);
    }
    procpulse_service::recover(rejection).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN_SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"; // "test"

    #[test]
    fn parses_and_checks_bearer() {
        let c = WebConfig::parse(&format!("bearer_token_sha256 = [\"{TOKEN_SHA}\"]")).unwrap();
        let a = Authenticator::new(&c).unwrap();
        assert_eq!(a.check(Some("Bearer test")), Ok(()));
        assert_eq!(a.check(Some("bearer  test")), Ok(()));
        assert_eq!(a.check(Some("Bearer tesT")), Err(Denied::Invalid));
        assert_eq!(a.check(Some("Basic dGVzdDp0ZXN0")), Err(Denied::Invalid));
        assert_eq!(a.check(None), Err(Denied::Missing));
    }

    #[test]
    fn checks_basic_with_bcrypt() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let c = WebConfig::parse(&format!("[basic_auth_users]\nalice = \"{hash}\"")).unwrap();
        let a = Authenticator::new(&c).unwrap();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            a.check(Some(&format!("Basic {}", b64("alice:s3cret")))),
            Ok(())
        );
        // Remembered: passes again.
        assert_eq!(
            a.check(Some(&format!("Basic {}", b64("alice:s3cret")))),
            Ok(())
        );
        assert!(
            a.check(Some(&format!("Basic {}", b64("alice:wrong"))))
                .is_err()
        );
        assert!(
            a.check(Some(&format!("Basic {}", b64("bob:s3cret"))))
                .is_err()
        );
        assert!(a.check(Some("Basic !!!")).is_err());
        assert!(a.check(Some("Bearer s3cret")).is_err());
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(WebConfig::parse("bearer_token_sha256 = [\"abc\"]").is_err());
        assert!(WebConfig::parse("[basic_auth_users]\nx = \"plain\"").is_err());
        assert!(WebConfig::parse("unknown = 1").is_err());
        let c = WebConfig::parse("").unwrap();
        assert!(!c.auth_enabled());
        assert!(Authenticator::new(&c).is_none());
    }
}
