//! The dashboard built into the binary: every file of the repository's `web/app` at
//! compile time (`build.rs`), so `procpulse-broadcaster` serves `/` from any working
//! directory with no web files installed. `--web-dir` overrides it (development).

/// One embedded file.
#[derive(Debug)]
pub struct EmbeddedFile {
    /// Path below `web/app`, `/`-separated, no leading `/` (`views/top.js`).
    pub path: &'static str,
    /// The file's bytes as they were at build time.
    pub bytes: &'static [u8],
    /// From [`crate::content_type::for_path`].
    pub content_type: &'static str,
    /// Strong entity tag, quoted: the first 128 bits of the SHA-256 of `bytes`, in hex.
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/embedded_web.rs"));

/// The embedded file at `path` (as [`FILES`] names it), if any.
pub fn get(path: &str) -> Option<&'static EmbeddedFile> {
    FILES
        .binary_search_by(|f| f.path.cmp(path))
        .ok()
        .map(|i| &FILES[i])
}

/// Total size of the embedded files, bytes.
pub fn total_bytes() -> usize {
    FILES.iter().map(|f| f.bytes.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_unique_and_has_the_page() {
        assert!(FILES.windows(2).all(|w| w[0].path < w[1].path));
        let index = get("index.html").expect("index.html embedded");
        assert!(index.content_type.starts_with("text/html"));
        assert!(get("main.js").is_some());
        assert!(get("nope.js").is_none());
        assert!(
            FILES
                .iter()
                .all(|f| !f.path.starts_with('.') && !f.path.contains("/."))
        );
        assert!(total_bytes() > index.bytes.len());
    }

    #[test]
    fn etags_are_strong_and_follow_the_content() {
        for f in FILES {
            assert_eq!(f.etag.len(), 34, "{}", f.path);
            assert!(
                f.etag.starts_with('"') && f.etag.ends_with('"'),
                "{}",
                f.path
            );
            assert_eq!(f.content_type, crate::content_type::for_path(f.path));
        }
        for a in FILES {
            for b in FILES {
                assert_eq!(
                    a.etag == b.etag,
                    a.bytes == b.bytes,
                    "{} {}",
                    a.path,
                    b.path
                );
            }
        }
    }
}
