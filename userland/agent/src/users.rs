//! User names for the `user` column of top rows: a pure parser of `/etc/passwd` text
//! and a cache re-read only when the file changes (no libc NSS: the agent is a static
//! Rust binary, and an LDAP/sssd lookup must never block the sampler). A uid the file
//! does not name is shown in decimal, like `ps`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// Longest name kept (the model's limit on `top[i].user`).
pub const MAX_NAME: usize = 64;

/// uid → name, from one reading of the passwd file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserNames(HashMap<u32, String>);

impl UserNames {
    /// The name of `uid`, else `uid` in decimal.
    pub fn name(&self, uid: u32) -> String {
        match self.0.get(&uid) {
            Some(n) => n.clone(),
            None => uid.to_string(),
        }
    }

    /// Names known.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no name is known.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Parses passwd(5) text (`name:password:uid:gid:gecos:home:shell`). The first line
/// naming a uid wins, as with `getpwuid`. Comments, blank lines, NIS `+`/`-` entries,
/// lines without a decimal uid and names that are empty, longer than [`MAX_NAME`] bytes
/// or contain control characters are skipped (such a uid is then shown in decimal).
pub fn parse_passwd(text: &str) -> UserNames {
    let mut map = HashMap::new();
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_pw), Some(uid)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if name.is_empty()
            || name.len() > MAX_NAME
            || name.starts_with(['#', '+', '-'])
            || name.chars().any(char::is_control)
        {
            continue;
        }
        let Ok(uid) = uid.parse::<u32>() else {
            continue;
        };
        map.entry(uid).or_insert_with(|| name.to_owned());
    }
    UserNames(map)
}

/// What identifies one version of the file: mtime, size and inode (an edit by
/// `useradd`/`vipw` replaces the file, an edit in place changes mtime and usually size).
type Stamp = (Option<SystemTime>, u64, u64);

/// The passwd file's names, re-read when its stamp changes.
#[derive(Debug)]
pub struct UsersCache {
    path: PathBuf,
    stamp: Option<Stamp>,
    names: Arc<UserNames>,
}

impl UsersCache {
    /// A cache of `path` (normally `/etc/passwd`); nothing is read until
    /// [`UsersCache::refresh`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        UsersCache {
            path: path.into(),
            stamp: None,
            names: Arc::new(UserNames::default()),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current names: one `stat` of the file, and a re-read when it changed. An
    /// unreadable file gives no names (every uid in decimal) until it is readable.
    pub fn refresh(&mut self) -> Arc<UserNames> {
        use std::os::unix::fs::MetadataExt;
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.modified().ok(), m.len(), m.ino()));
        if stamp != self.stamp {
            let names = match stamp {
                Some(_) => std::fs::read_to_string(&self.path)
                    .map(|t| parse_passwd(&t))
                    .unwrap_or_default(),
                None => UserNames::default(),
            };
            tracing::debug!(path = %self.path.display(), names = names.len(), "User names read");
            self.names = Arc::new(names);
            self.stamp = stamp;
        }
        self.names.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from Debian 12 (trimmed), with odd lines added.
    const CAPTURED: &str = "root:x:0:0:root:/root:/bin/bash\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin\n\
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n\
toor:x:0:0:second root:/root:/bin/sh\n\
\n\
# comment:x:5:5\n\
+nisuser:x:6:6::/:\n\
bad:x:notanumber:1::/:\n\
short:x\n\
:x:7:7::/:\n\
ctl\u{7}name:x:8:8::/:\n";

    #[test]
    fn parses_captured_text() {
        let u = parse_passwd(CAPTURED);
        assert_eq!(u.name(0), "root", "the first line for a uid wins");
        assert_eq!(u.name(1), "daemon");
        assert_eq!(u.name(998), "systemd-network");
        assert_eq!(u.name(1000), "alice");
        assert_eq!(u.name(65534), "nobody");
        assert_eq!(u.len(), 5);
    }

    #[test]
    fn unknown_and_skipped_uids_are_decimal() {
        let u = parse_passwd(CAPTURED);
        for uid in [5, 6, 7, 8, 4242] {
            assert_eq!(u.name(uid), uid.to_string());
        }
        let long = format!("{}:x:9:9::/:\n", "n".repeat(MAX_NAME + 1));
        assert_eq!(parse_passwd(&long).name(9), "9");
        let just = format!("{}:x:9:9::/:\n", "n".repeat(MAX_NAME));
        assert_eq!(parse_passwd(&just).name(9).len(), MAX_NAME);
        assert!(parse_passwd("").is_empty());
    }

    #[test]
    fn cache_rereads_when_the_file_changes() {
        let dir = std::env::temp_dir().join(format!("pp-users-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("passwd");
        let mut c = UsersCache::new(&p);
        // Missing: decimal.
        assert_eq!(c.refresh().name(1000), "1000");
        std::fs::write(&p, "alice:x:1000:1000::/:\n").unwrap();
        assert_eq!(c.refresh().name(1000), "alice");
        let same = c.refresh();
        assert!(
            Arc::ptr_eq(&same, &c.refresh()),
            "unchanged file is not re-read"
        );
        // Replaced (new inode, other size): re-read.
        let tmp = dir.join("passwd.new");
        std::fs::write(&tmp, "bob:x:1000:1000::/home/bob:/bin/sh\n").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        assert_eq!(c.refresh().name(1000), "bob");
        std::fs::remove_file(&p).unwrap();
        assert_eq!(c.refresh().name(1000), "1000");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
