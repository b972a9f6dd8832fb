//! Sample ids: `<host>-<6 hex>-<9-digit sequence>`. The 6 hex digits identify this agent
//! instance (a hash of boot_id, start time and pid), so a restarted agent never reuses the
//! ids of an earlier one even though its sequence starts again at 1.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Generates the ids of one agent instance.
#[derive(Debug)]
pub struct SampleIds {
    prefix: String,
    seq: AtomicU64,
}

/// FNV-1a, 64 bit: tiny, dependency-free, good enough to spread three inputs.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The 6-hex-digit instance tag for these inputs.
pub fn instance_tag(boot_id: &str, start_unix_nanos: u128, pid: u32) -> String {
    let h = fnv1a(&[
        boot_id.trim().as_bytes(),
        &start_unix_nanos.to_le_bytes(),
        &pid.to_le_bytes(),
    ]);
    // Fold the 64 bits into 24.
    let tag = (h ^ (h >> 24) ^ (h >> 48)) & 0xff_ffff;
    format!("{tag:06x}")
}

impl SampleIds {
    /// Ids for `host` with instance tag `tag`; the first sequence number is 1.
    pub fn new(host: &str, tag: &str) -> Self {
        SampleIds {
            prefix: format!("{host}-{tag}-"),
            seq: AtomicU64::new(1),
        }
    }

    /// The next id.
    pub fn next_id(&self) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut s = String::with_capacity(self.prefix.len() + 10);
        s.push_str(&self.prefix);
        let _ = write!(s, "{n:09}");
        s
    }

    /// `<host>-<tag>-`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// Makes a host name valid for snapshots: `[A-Za-z0-9._-]`, 1–64 characters.
pub fn sanitize_host(raw: &str) -> String {
    let mut s: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() {
        s.push_str("localhost");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_shape() {
        let ids = SampleIds::new("vm-1", "8f3c2a");
        assert_eq!(ids.next_id(), "vm-1-8f3c2a-000000001");
        assert_eq!(ids.next_id(), "vm-1-8f3c2a-000000002");
    }

    #[test]
    fn tag_changes_with_start_time_and_pid() {
        let a = instance_tag("b0", 1, 10);
        assert_eq!(a.len(), 6);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, instance_tag("b0", 2, 10));
        assert_ne!(a, instance_tag("b0", 1, 11));
        assert_ne!(a, instance_tag("b1", 1, 10));
        assert_eq!(a, instance_tag("b0\n", 1, 10));
    }

    #[test]
    fn host_is_sanitized() {
        assert_eq!(sanitize_host("vm 1\n"), "vm-1");
        assert_eq!(sanitize_host(""), "localhost");
        assert_eq!(sanitize_host(&"x".repeat(100)).len(), 64);
    }
}
