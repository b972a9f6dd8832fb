//! `GET /` and the dashboard's files: by default the copy embedded at build time
//! ([`crate::embedded`], the repository's `web/app`), or with `--web-dir` the files of a
//! directory, read from disk per request (development: an edit shows on reload). Content
//! types come from the one mapping in [`crate::content_type`]; every file is
//! `Cache-Control: no-cache` ([`CACHE_CONTROL`]: the names carry no content hash, so
//! browsers revalidate), embedded files with a strong `ETag` (`If-None-Match` → 304),
//! directory files with warp's `Last-Modified`.
//!
//! A path that names no file falls through as 404 (before the method is looked at, so an
//! unknown path is 404 whatever the method); GET and HEAD are served. So does every path
//! [`web_path`] refuses (checked after percent-decoding): dotfiles (`.env`), anything under
//! a dot-directory (`.git/config`, `assets/.hidden`), `..` in any encoding, backslashes,
//! NUL and other control characters, empty segments (`//etc/passwd`), invalid UTF-8
//! (overlong forms), and, with `--web-dir`, symbolic links whose target lies outside the
//! web directory.
//!
//! The dashboard's HTML carries a Content-Security-Policy ([`DASHBOARD_CSP`]);
//! [`security_headers`] adds `nosniff`, `Referrer-Policy` and `X-Frame-Options` to every
//! response of the service.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::embedded::{self, EmbeddedFile};

/// Where the dashboard's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebSource {
    /// The files built into the binary.
    Embedded,
    /// A directory read per request (`--web-dir`).
    Dir(PathBuf),
}

/// Cache policy of every dashboard file: store, but revalidate before each use.
pub const CACHE_CONTROL: &str = "no-cache";

/// The Content-Security-Policy of the dashboard's HTML. The page (web/app, ES modules)
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

/// The file a request for `rel` (decoded, from [`web_path`]) names under `base`: a file,
/// or a directory's `index.html`, whose real path (symbolic links resolved) is still inside
/// `base`. Returns that real path.
async fn servable(base: &Path, rel: &str) -> Option<PathBuf> {
    let root = tokio::fs::canonicalize(base).await.ok()?;
    let mut real = tokio::fs::canonicalize(base.join(rel)).await.ok()?;
    if !real.starts_with(&root) {
        return None;
    }
    match tokio::fs::metadata(&real).await {
        Ok(m) if m.is_file() => Some(real),
        Ok(m) if m.is_dir() => {
            real.push("index.html");
            matches!(tokio::fs::metadata(&real).await, Ok(m) if m.is_file()).then_some(real)
        }
        _ => None,
    }
}

/// The embedded file a request path (as sent, without the leading `/`) names: `""` and
/// `dir/` name `index.html` / `dir/index.html`.
fn embedded_file(tail: &str) -> Option<&'static EmbeddedFile> {
    let rel = match web_path(tail) {
        Ok(rel) => rel,
        Err(why) => {
            tracing::debug!(path = %tail, ?why, "Refusing a static path");
            return None;
        }
    };
    if rel.is_empty() || rel.ends_with('/') {
        embedded::get(&format!("{rel}index.html"))
    } else {
        embedded::get(&rel)
    }
}

/// Whether an `If-None-Match` header matches `etag` (weak comparison, RFC 9110 §13.1.2).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// `Cache-Control`, and on HTML the dashboard's CSP.
fn page_headers(h: &mut HeaderMap, content_type: &str) {
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    if content_type.starts_with("text/html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DASHBOARD_CSP),
        );
    }
}

/// The answer for an embedded file: 304 when `If-None-Match` matches its ETag, else its
/// bytes (hyper sends none for HEAD).
fn embedded_response(file: &'static EmbeddedFile, request: &HeaderMap) -> Response {
    let mut res = if none_match(request, file.etag) {
        let mut res = Response::new(Default::default());
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else {
        let mut res = Response::new(file.bytes.into());
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(file.content_type),
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(file.bytes.len()));
        res
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_static(file.etag));
    page_headers(h, file.content_type);
    res
}

/// The embedded dashboard.
fn embedded_route() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path::peek()
        .and_then(|peek: warp::path::Peek| async move {
            embedded_file(peek.as_str()).ok_or_else(warp::reject::not_found)
        })
        .and(warp::get().or(warp::head()).unify())
        .and(warp::header::headers_cloned())
        .map(|file: &'static EmbeddedFile, request: HeaderMap| embedded_response(file, &request))
}

/// The files under `dir`, read per request: dotfiles, anything under a dot-directory,
/// traversal in any encoding and links leading outside `dir` are 404 (before the method
/// is looked at).
fn dir_route(dir: PathBuf) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let base = Arc::new(dir);
    let exists = {
        let base = Arc::clone(&base);
        warp::path::peek().and_then(move |peek: warp::path::Peek| {
            let base = Arc::clone(&base);
            let tail = peek.as_str().to_owned();
            async move {
                match web_path(&tail) {
                    Ok(rel) => match servable(&base, &rel).await {
                        Some(real) => Ok(real),
                        None => Err(warp::reject::not_found()),
                    },
                    Err(why) => {
                        tracing::debug!(path = %tail, ?why, "Refusing a static path");
                        Err(warp::reject::not_found())
                    }
                }
            }
        })
    };
    exists
        .and(warp::fs::dir((*base).clone()))
        .map(|real: PathBuf, file: warp::fs::File| {
            let content_type = crate::content_type::for_path(&real.to_string_lossy());
            let mut res = file.into_response();
            let h = res.headers_mut();
            if h.contains_key(header::CONTENT_TYPE) {
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            }
            page_headers(h, content_type);
            res
        })
}

/// The dashboard from `source`. HTML answers carry [`DASHBOARD_CSP`].
pub fn route(source: WebSource) -> BoxedFilter<(Response,)> {
    match source {
        WebSource::Embedded => embedded_route().boxed(),
        WebSource::Dir(dir) => dir_route(dir).boxed(),
    }
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
