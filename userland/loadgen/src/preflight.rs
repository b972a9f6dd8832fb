//! Checks that the target answers at all before goose starts hundreds of users against
//! it: goose would otherwise run the whole phase logging connection errors.

use std::time::Duration;

/// How long the check waits for a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The target is unusable.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// The URL is not `http(s)://host[:port][/path]`.
    #[error("{url:?} is not a usable URL: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Nothing accepted a connection.
    #[error("cannot reach {url} ({authority}): {reason}")]
    Unreachable {
        /// The URL given.
        url: String,
        /// `host:port` dialled.
        authority: String,
        /// The OS error, or a timeout.
        reason: String,
    },
}

/// Splits `http://host:port/path` into `host:port`, filling the scheme's default port.
pub fn authority(url: &str) -> Result<String, PreflightError> {
    let bad = |reason| PreflightError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let (rest, default_port) = if let Some(r) = url.strip_prefix("http://") {
        (r, 80)
    } else if let Some(r) = url.strip_prefix("https://") {
        (r, 443)
    } else {
        return Err(bad("it must start with http:// or https://"));
    };
    let auth = rest.split(['/', '?', '#']).next().unwrap_or("");
    let auth = auth.rsplit('@').next().unwrap_or(auth);
    if auth.is_empty() {
        return Err(bad("it names no host"));
    }
    // `[::1]:8080`, `[::1]`, `host:8080`, `host`.
    let has_port = match auth.rfind(':') {
        Some(i) => !auth[i..].contains(']'),
        None => false,
    };
    if has_port {
        let port = &auth[auth.rfind(':').unwrap_or(0) + 1..];
        if port.parse::<u16>().is_err() {
            return Err(bad("its port is not a number 0-65535"));
        }
        Ok(auth.to_owned())
    } else {
        Ok(format!("{auth}:{default_port}"))
    }
}

/// Opens (and closes) one TCP connection to the URL's host and port.
pub async fn check_reachable(url: &str) -> Result<(), PreflightError> {
    let authority = authority(url)?;
    let unreachable = |reason: String| PreflightError::Unreachable {
        url: url.to_owned(),
        authority: authority.clone(),
        reason,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&authority)).await {
        Ok(Ok(_stream)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!(
            "no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        assert_eq!(
            authority("http://127.0.0.1:5200").unwrap(),
            "127.0.0.1:5200"
        );
        assert_eq!(authority("http://localhost/x?y").unwrap(), "localhost:80");
        assert_eq!(authority("https://h.example").unwrap(), "h.example:443");
        assert_eq!(authority("http://[::1]:8080/a").unwrap(), "[::1]:8080");
        assert_eq!(authority("http://[::1]").unwrap(), "[::1]:80");
        assert_eq!(authority("http://u:p@h:81/").unwrap(), "h:81");
        assert!(authority("127.0.0.1:5200").is_err());
        assert!(authority("http://").is_err());
        assert!(authority("http://h:99999").is_err());
    }

    #[tokio::test]
    async fn closed_port_is_reported_with_the_url() {
        // Bind then drop a listener: the port is now (almost certainly) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}");
        let e = check_reachable(&url).await.unwrap_err().to_string();
        assert!(e.contains(&url) && e.contains("cannot reach"), "{e}");
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        check_reachable(&url).await.unwrap();
    }
}
