//! Database URLs: `sqlite://path` or `mysql://user:pass@host:port/db`.

use crate::error::StorageError;
use procpulse_model::redact::redact_password;
use std::fmt;
use std::str::FromStr;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// An SQLite file (`sqlite://path`).
    Sqlite,
    /// MySQL 8 or MariaDB (`mysql://…`).
    Mysql,
}

impl Backend {
    /// Lower-case name (`sqlite`, `mysql`), e.g. for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Mysql => "mysql",
        }
    }
}

/// The database every service uses when none is given: a SQLite file in the working
/// directory (the embedded default).
pub const DEFAULT_DATABASE_URL: &str = "sqlite://procpulse.db";

/// A parsed database URL. `Display` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    /// What the driver is given: the file path for SQLite, the whole URL for MySQL.
    target: String,
}

impl DatabaseUrl {
    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection string handed to the driver (SQLite: the file path,
    /// `sqlite:///abs.db` → `/abs.db`, `sqlite://rel.db` → `rel.db`; MySQL: the URL).
    pub fn target(&self) -> &str {
        &self.target
    }
}

impl FromStr for DatabaseUrl {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(StorageError::BadUrl("sqlite:// needs a file path".into()));
            }
            return Ok(DatabaseUrl {
                backend: Backend::Sqlite,
                target: path.to_owned(),
            });
        }
        if s.starts_with("mysql://") || s.starts_with("mariadb://") {
            let target = s.replacen("mariadb://", "mysql://", 1);
            if target.len() <= "mysql://".len() {
                return Err(StorageError::BadUrl("mysql:// needs a host".into()));
            }
            return Ok(DatabaseUrl {
                backend: Backend::Mysql,
                target,
            });
        }
        Err(StorageError::BadUrl(format!(
            "unsupported database URL {:?} (expected sqlite://path or mysql://user:pass@host:port/db)",
            redact_password(s)
        )))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.backend {
            Backend::Sqlite => write!(f, "sqlite://{}", self.target),
            Backend::Mysql => f.write_str(&redact_password(&self.target)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_backends() {
        let u: DatabaseUrl = "sqlite:///tmp/x.db".parse().unwrap();
        assert_eq!((u.backend(), u.target()), (Backend::Sqlite, "/tmp/x.db"));
        let u: DatabaseUrl = "sqlite://procpulse.db".parse().unwrap();
        assert_eq!(u.target(), "procpulse.db");
        let u: DatabaseUrl = "mysql://pp:s3cret@127.0.0.1:3307/procpulse"
            .parse()
            .unwrap();
        assert_eq!(u.backend(), Backend::Mysql);
        assert_eq!(u.target(), "mysql://pp:s3cret@127.0.0.1:3307/procpulse");
    }

    #[test]
    fn display_hides_the_password() {
        let u: DatabaseUrl = "mysql://pp:s3cret@127.0.0.1:3307/procpulse"
            .parse()
            .unwrap();
        assert_eq!(u.to_string(), "mysql://pp:***@127.0.0.1:3307/procpulse");
        assert!(!format!("{u:?}").contains("s3cret"));
    }

    #[test]
    fn rejects_other_schemes() {
        assert!("postgres://x".parse::<DatabaseUrl>().is_err());
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
        let err = "redis://u:pw@h"
            .parse::<DatabaseUrl>()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("pw"), "{err}");
    }
}
