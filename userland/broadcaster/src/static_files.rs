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

/// `index-BX3k2a9f.js`, `app.3f9a1c2e.css`: a stem whose last `-`/`.` part is 8+
/// alphanumeric characters with at least one digit.
fn is_hashed(name: &str) -> bool {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let Some(part) = stem
        .rsplit(['-', '.'])
        .next()
        .filter(|p| p.len() < stem.len())
    else {
        return false;
    };
    part.len() >= 8
        && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && part.chars().any(|c| c.is_ascii_digit())
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
        assert_eq!(cache_control("assets/logo.svg"), "public, max-age=300");
        assert_eq!(
            cache_control("assets/vendor-uplot.js"),
            "public, max-age=300"
        );
        assert_eq!(cache_control("favicon.ico"), "public, max-age=300");
    }
}
