//! `GET /` and the dashboard's files from `--web-dir`, with content types from the file
//! extension and caching headers: `index.html` (and any HTML) `no-cache`, hashed build
//! assets (`name-<hash>.js` under `assets/`, as Vite emits them) immutable for a year,
//! anything else revalidated after five minutes.
//!
//! A path that names no file falls through as 404 (before the method is looked at, so an
//! unknown path is 404 whatever the method).

use std::path::PathBuf;
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

/// The static files under `dir`.
pub fn route(dir: PathBuf) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let base = Arc::new(dir);
    let exists = {
        let base = Arc::clone(&base);
        warp::path::peek().and_then(move |peek: warp::path::Peek| {
            let mut path = (*base).clone();
            let tail = peek.as_str().to_owned();
            async move {
                if tail
                    .split('/')
                    .any(|s| s.starts_with("..") || s.contains('\\'))
                {
                    return Err(warp::reject::not_found());
                }
                path.push(&tail);
                match tokio::fs::metadata(&path).await {
                    Ok(m) if m.is_file() => Ok(()),
                    Ok(m) if m.is_dir() => match tokio::fs::metadata(path.join("index.html")).await
                    {
                        Ok(_) => Ok(()),
                        Err(_) => Err(warp::reject::not_found()),
                    },
                    _ => Err(warp::reject::not_found()),
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
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache_control(peek.as_str())),
            );
            res
        })
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
}
