//! The one mapping from a served file's name to its `Content-Type`, used by `build.rs`
//! (the table of the embedded dashboard) and at run time for `--web-dir`. No crate
//! dependencies, so the build script can include it with `#[path]`.
//!
//! Text types carry `charset=utf-8`; ES modules must be served as JavaScript (browsers
//! refuse `import` of anything else under `nosniff`). A name without a known extension
//! (`LICENSE`) is `application/octet-stream`.

/// The `Content-Type` of the file named by `path` (`/`-separated, any directory prefix).
pub fn for_path(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => return OCTET_STREAM,
    };
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        _ => OCTET_STREAM,
    }
}

/// Anything the table does not name.
pub const OCTET_STREAM: &str = "application/octet-stream";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboard_types_by_extension() {
        assert_eq!(for_path("index.html"), "text/html; charset=utf-8");
        assert_eq!(for_path("views/top.js"), "text/javascript; charset=utf-8");
        assert_eq!(for_path("lib/x.MJS"), "text/javascript; charset=utf-8");
        assert_eq!(
            for_path("vendor/uplot/uPlot.min.css"),
            "text/css; charset=utf-8"
        );
        assert_eq!(for_path("favicon.ico"), "image/x-icon");
        assert_eq!(for_path("vendor/uplot/LICENSE"), OCTET_STREAM);
        assert_eq!(for_path("a.tar.gz"), OCTET_STREAM);
        assert_eq!(for_path("dir.js/README"), OCTET_STREAM);
        assert_eq!(for_path(".js"), OCTET_STREAM);
        assert_eq!(for_path(""), OCTET_STREAM);
    }
}
