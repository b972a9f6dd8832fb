//! URLs that may carry a password, made safe to print or log.

/// `url` with the password of its userinfo (`scheme://user:password@host…`) replaced by
/// `***`. The userinfo ends at the last `@`, so a password holding an unencoded `/` or `@`
/// is hidden too; when in doubt more is hidden, never less. Text without a password is
/// returned unchanged.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn hides_only_the_password() {
        let cases = [
            (
                "mysql://pp:s3cret@127.0.0.1:3307/procpulse",
                "mysql://pp:***@127.0.0.1:3307/procpulse",
            ),
            (
                "https://agent:t0k/en@ingest.example:443/api/v1/samples",
                "https://agent:***@ingest.example:443/api/v1/samples",
            ),
            ("http://user@host/x", "http://user@host/x"),
            (
                "http://127.0.0.1:8080/api/v1/samples",
                "http://127.0.0.1:8080/api/v1/samples",
            ),
            ("sqlite:///tmp/x.db", "sqlite:///tmp/x.db"),
            ("not a url", "not a url"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_password(url), want, "{url}");
        }
    }
}
