//! `GET /` and the dashboard's files from `--web-dir`, with content types from the file
//! extension and caching headers: `index.html` (and any HTML) `no-cache`, hashed build
//! assets (`name-<hash>.js` under `assets/`, as Vite emits them) immutable for a year,
//! anything else revalidated after five minutes.
//!
//! A path that names no file falls through as 404 (before the method is looked at, so an
//! unknown path is 404 whatever the method). So does every path [`web_path`] refuses
//! (checked after percent-decoding): dotfiles (`.env`), anything under a dot-directory
//! (`.git/config`, `assets/.hidden`), `..` in any encoding, backslashes, NUL and other
//! control characters, empty segments (`//etc/passwd`), invalid UTF-8 (overlong forms), and
//! symbolic links whose target lies outside the web directory.
//!
//! The dashboard's HTML carries a Content-Security-Policy ([`DASHBOARD_CSP`]);
//! [`security_headers`] adds `nosniff`, `Referrer-Policy` and `X-Frame-Options` to every
//! response of the service.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use warp::http::{HeaderValue, header};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

/// Cache policy of one served path.
pub fn cache_control(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    if path.is_empty() || path.ends_with('/') || name.ends_with(".html") {
        "no-cache"
    } else if path.starts_with("assets/") && is_hashed(name) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    }
}

/// `index-DxexxUHJ.js`, `app.3f9a1c2e.css`: the stem ends in a separator (`-` or `.`)
/// and a content hash of 8 or more base64url characters (Vite's `[name]-[hash]` uses 8,
/// and its hash may itself contain `-` or `_`).
fn is_hashed(name: &str) -> bool {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s).as_bytes();
    let b64 = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-';
    let n = stem.len();
    if n >= 10 && matches!(stem[n - 9], b'-' | b'.') && stem[n - 8..].iter().all(b64) {
        return true;
    }
    match stem.iter().rposition(|c| matches!(c, b'-' | b'.')) {
        Some(i) => n - i > 8 && stem[i + 1..].iter().all(b64),
        None => false,
    }
}

/// The Content-Security-Policy of the dashboard's HTML. The page (a Vite build of web/)
/// loads its script and stylesheet from this origin and sets element styles through the
/// CSSOM only (no inline `<style>` or `style=` attributes, no inline scripts, no eval), its
/// favicon is `data:,`, and it opens a WebSocket and fetches `api/v1/latest` from the same
/// origin, or from the broadcaster named by `?ws=` (any host, hence the schemes in
/// `connect-src`). It is never framed and submits no forms.
pub const DASHBOARD_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; font-src 'self'; connect-src 'self' ws: wss: http: https:; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

/// Why a request path may not be served from the web directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Percent-encoding that is not valid UTF-8 (overlong forms included).
    Encoding,
    /// A segment that starts with `.` (dotfiles, dot-directories, `.` and `..`).
    Dot,
    /// A backslash, a NUL or another control character, or an empty segment (`//`).
    Character,
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let hi = b.get(i + 1).copied().and_then(hex)?;
            let lo = b.get(i + 2).copied().and_then(hex)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The relative file path a request path (as sent, percent-encoded, without the leading
/// `/`) names under the web directory, or why it is refused. Checked on the decoded
/// text, so `%2e%2e`, `%2f`, `%5c` and `%00` are seen for what they are: every segment must
/// be non-empty (except a trailing `/`), must not start with `.`, and must hold no
/// backslash or control character.
pub fn web_path(tail: &str) -> Result<String, Refused> {
    let decoded = percent_decode(tail).ok_or(Refused::Encoding)?;
    let body = decoded.strip_suffix('/').unwrap_or(&decoded);
    if body.is_empty() {
        return Ok(decoded);
    }
    for seg in body.split('/') {
        if seg.is_empty() || seg.contains('\\') || seg.chars().any(char::is_control) {
            return Err(Refused::Character);
        }
        if seg.starts_with('.') {
            return Err(Refused::Dot);
        }
    }
    Ok(decoded)
}

/// Whether `rel` names a file (or a directory with an `index.html`) whose real path,
/// symbolic links resolved, is still inside `base`.
async fn servable(base: &Path, rel: &str) -> bool {
    let Ok(root) = tokio::fs::canonicalize(base).await else {
        return false;
    };
    let Ok(mut real) = tokio::fs::canonicalize(base.join(rel)).await else {
        return false;
    };
    if !real.starts_with(&root) {
        return false;
    }
    match tokio::fs::metadata(&real).await {
        Ok(m) if m.is_file() => true,
        Ok(m) if m.is_dir() => {
            real.push("index.html");
            matches!(tokio::fs::metadata(&real).await, Ok(m) if m.is_file())
        }
        _ => false,
    }
}

/// The static files under `dir`: dotfiles, anything under a dot-directory, traversal in
/// any encoding and links leading outside `dir` are 404 (before the method is looked at).
/// HTML answers carry [`DASHBOARD_CSP`].
pub fn route(dir: PathBuf) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let base = Arc::new(dir);
    let exists = {
        let base = Arc::clone(&base);
        warp::path::peek().and_then(move |peek: warp::path::Peek| {
            let base = Arc::clone(&base);
            let tail = peek.as_str().to_owned();
            async move {
                match web_path(&tail) {
                    Ok(rel) if servable(&base, &rel).await => Ok(()),
                    Ok(_) => Err(warp::reject::not_found()),
                    Err(why) => {
                        tracing::debug!(path = %tail, ?why, "Refusing a static path");
                        Err(warp::reject::not_found())
                    }
                }
            }
        })
    };
    exists
        .untuple_one()
        .and(warp::path::peek())
        .and(warp::fs::dir((*base).clone()))
        .map(|peek: warp::path::Peek, file: warp::fs::File| {
            let mut res = file.into_response();
            let h = res.headers_mut();
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache_control(peek.as_str())),
            );
            let html = h
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html"));
            if html {
                h.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(DASHBOARD_CSP),
                );
            }
            res
        })
}

/// Headers every response of the service carries: `X-Content-Type-Options: nosniff`,
/// `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`, and on answers that set no
/// policy of their own (everything but the dashboard's HTML) the Content-Security-Policy
/// `default-src 'none'; frame-ancestors 'none'`.
pub fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_policy_by_path() {
        assert_eq!(cache_control(""), "no-cache");
        assert_eq!(cache_control("index.html"), "no-cache");
        assert_eq!(
            cache_control("assets/index-BX3k2a9f.js"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            cache_control("assets/app.3f9a1c2e.css"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            cache_control("assets/index-DxexxUHJ.js"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            cache_control("assets/index-UB6Qj_-4.css"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_control("assets/logo.svg"), "public, max-age=300");
        assert_eq!(
            cache_control("assets/vendor-uplot.js"),
            "public, max-age=300"
        );
        assert_eq!(cache_control("favicon.ico"), "public, max-age=300");
    }

    #[test]
    fn web_paths_refuse_dots_traversal_and_odd_bytes_in_any_encoding() {
        for ok in [
            "",
            "index.html",
            "assets/index-BX3k2a9f.js",
            "assets/",
            "a%20b.txt",
        ] {
            assert!(web_path(ok).is_ok(), "{ok}");
        }
        assert_eq!(web_path("a%20b.txt").unwrap(), "a b.txt");
        for (bad, why) in [
            ("../x", Refused::Dot),
            ("..%2f..%2fetc/passwd", Refused::Dot),
            ("%2e%2e/%2e%2e/etc/passwd", Refused::Dot),
            ("%2E%2E/x", Refused::Dot),
            (".env", Refused::Dot),
            (".git/config", Refused::Dot),
            ("assets/.hidden", Refused::Dot),
            ("assets/./index.html", Refused::Dot),
            ("/etc/passwd", Refused::Character),
            ("assets//x", Refused::Character),
            ("assets/..%5c..%5cetc%5cpasswd", Refused::Character),
            ("assets\\x", Refused::Character),
            ("index.html%00.js", Refused::Character),
            ("a%0a", Refused::Character),
            ("%c0%ae%c0%ae/etc/passwd", Refused::Encoding),
            ("%e0%80%ae", Refused::Encoding),
            ("%zz", Refused::Encoding),
            ("%2", Refused::Encoding),
            ("%ff", Refused::Encoding),
        ] {
            assert_eq!(web_path(bad), Err(why), "{bad}");
        }
    }

    #[test]
    fn the_dashboard_csp_names_only_what_the_page_needs() {
        assert!(DASHBOARD_CSP.contains("script-src 'self';"));
        assert!(DASHBOARD_CSP.contains("style-src 'self';"));
        assert!(!DASHBOARD_CSP.contains("unsafe"));
        assert!(DASHBOARD_CSP.contains("frame-ancestors 'none'"));
        HeaderValue::from_static(DASHBOARD_CSP);
    }
}
