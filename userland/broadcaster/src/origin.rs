//! The `--allowed-origin` list: which browser origins may open the WebSocket and read the
//! REST routes cross-origin (CORS).

/// Allowed origins, normalized (lower case, no trailing `/`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    list: Vec<String>,
}

fn normalize(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl Origins {
    /// From the flag values (empty strings ignored).
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(origins: I) -> Self {
        Origins {
            list: origins
                .into_iter()
                .map(|o| normalize(o.as_ref()))
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }

    /// Whether no origin is configured.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn contains(&self, origin: &str) -> bool {
        let origin = normalize(origin);
        self.list.contains(&origin)
    }

    /// WebSocket upgrade: with no list configured anything goes; with a list, a request
    /// that carries an `Origin` (every browser sends one) must match it. Requests without
    /// an `Origin` come from non-browser clients, which an origin check cannot restrict.
    pub fn allows_upgrade(&self, origin: Option<&str>) -> bool {
        match origin {
            _ if self.is_empty() => true,
            None => true,
            Some(o) => self.contains(o),
        }
    }

    /// CORS: the `Access-Control-Allow-Origin` value for a request from `origin`, if any.
    /// Same-origin requests need none; other origins only when listed.
    pub fn cors(&self, origin: Option<&str>) -> Option<String> {
        let origin = origin?;
        self.contains(origin).then(|| origin.trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_list_allows_every_upgrade_but_no_cors() {
        let o = Origins::new(Vec::<String>::new());
        assert!(o.allows_upgrade(Some("https://evil.example")));
        assert_eq!(o.cors(Some("https://evil.example")), None);
    }

    #[test]
    fn listed_origins_match_case_and_slash_insensitively() {
        let o = Origins::new(["https://Dash.example/", ""]);
        assert!(o.allows_upgrade(Some("https://dash.example")));
        assert!(!o.allows_upgrade(Some("https://dash.example.evil")));
        assert!(!o.allows_upgrade(Some("null")));
        assert!(o.allows_upgrade(None));
        assert_eq!(
            o.cors(Some("https://dash.example")).as_deref(),
            Some("https://dash.example")
        );
        assert_eq!(o.cors(Some("http://dash.example")), None);
    }
}
