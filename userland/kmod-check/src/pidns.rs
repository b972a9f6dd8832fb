//! /proc/procpulse_tasks honours the reader's pid namespace and `hidepid=invisible`.

use crate::helpers::{Seen, self_exe};
use crate::tasks::Helper;
use crate::{CheckError, TASKS_FILE, read};
use std::collections::BTreeSet;
use std::process::Command;

/// Where the `hidepid=invisible` proc instance is mounted.
pub const HIDEPID_DIR: &str = "/tmp/hp";
/// At most this many processes may be visible inside the fresh namespace.
const MAX_INNER: usize = 5;

/// Inside a fresh pid namespace: the module lists exactly the namespace's /proc pids,
/// the reader is among them with ppid 0, and only a handful exist although `outer`
/// processes are visible outside.
pub fn compare_namespace(seen: &Seen, outer: usize) -> Result<(), String> {
    let kmod: BTreeSet<u64> = seen.rows.iter().map(|r| r.0).collect();
    let procs: BTreeSet<u64> = seen.proc_pids.iter().copied().collect();
    if kmod != procs {
        return Err(format!(
            "module shows pids {kmod:?}, the namespace's /proc lists {procs:?}"
        ));
    }
    match seen.rows.iter().find(|r| r.0 == seen.me) {
        None => return Err(format!("reader (pid {}) not in its own list", seen.me)),
        Some(r) if r.2 != 0 => {
            return Err(format!(
                "reader's ppid is {} (its parent is outside the namespace: want 0)",
                r.2
            ));
        }
        Some(_) => {}
    }
    if kmod.len() > MAX_INNER || kmod.len() >= outer {
        return Err(format!(
            "{} pids visible inside the namespace, {outer} outside",
            kmod.len()
        ));
    }
    Ok(())
}

/// An unprivileged reader of a `hidepid=invisible` /proc sees only processes of its uid:
/// itself and `peer`, never pid 1.
pub fn compare_hidepid(seen: &Seen, uid: u64, peer: u64) -> Result<(), String> {
    if let Some(r) = seen.rows.iter().find(|r| r.1 != uid) {
        return Err(format!("uid {uid} reader saw pid {} of uid {}", r.0, r.1));
    }
    let pids: BTreeSet<u64> = seen.rows.iter().map(|r| r.0).collect();
    if !pids.contains(&seen.me) {
        return Err(format!("reader (pid {}) did not see itself", seen.me));
    }
    if !pids.contains(&peer) {
        return Err(format!("reader did not see pid {peer}, also of uid {uid}"));
    }
    if pids.contains(&1) {
        return Err("reader saw pid 1".into());
    }
    Ok(())
}

fn run_seen(cmd: &str, args: &[&str]) -> Result<Seen, CheckError> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|source| CheckError::Io {
            path: cmd.into(),
            source,
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with('{')).ok_or_else(|| {
        CheckError::Mismatch(format!(
            "{cmd} {}: {} printed no result; stdout {stdout:?} stderr {:?}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    })?;
    Seen::parse(line)
}

/// Mounts a `hidepid=invisible` proc instance; unmounts on drop.
struct HidepidMount;

impl HidepidMount {
    fn mount() -> Result<Self, CheckError> {
        std::fs::create_dir_all(HIDEPID_DIR).map_err(|source| CheckError::Io {
            path: HIDEPID_DIR.into(),
            source,
        })?;
        nix::mount::mount(
            Some("proc"),
            HIDEPID_DIR,
            Some("proc"),
            nix::mount::MsFlags::empty(),
            Some("hidepid=invisible"),
        )
        .map_err(|e| {
            CheckError::Mismatch(format!("mount proc hidepid=invisible {HIDEPID_DIR}: {e}"))
        })?;
        Ok(HidepidMount)
    }
}

impl Drop for HidepidMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount(HIDEPID_DIR);
    }
}

/// The `tasks-pidns` check: a fresh pid namespace (busybox `unshare -pf --mount-proc`)
/// and a `hidepid=invisible` mount read as `uid`.
pub fn check(unshare: &str, uid: u32) -> Result<String, CheckError> {
    let outer = crate::fields::parse_tasks(&read(TASKS_FILE)?)?.len();
    let exe = self_exe();
    let inner = run_seen(
        unshare,
        &["-p", "-f", "--mount-proc", &exe, "tasks-list-self"],
    )?;
    compare_namespace(&inner, outer)
        .map_err(|e| CheckError::Mismatch(format!("pid namespace: {e}")))?;

    let mount = HidepidMount::mount()?;
    let u = uid.to_string();
    let peer = Helper::start(&["setuid-child", "--ruid", &u, "--euid", &u, "--suid", &u])?;
    let file = format!("{HIDEPID_DIR}/procpulse_tasks");
    let seen = run_seen(&exe, &["tasks-read-as", "--uid", &u, "--file", &file])?;
    compare_hidepid(&seen, u64::from(uid), peer.pid())
        .map_err(|e| CheckError::Mismatch(format!("hidepid=invisible: {e}")))?;
    let root_rows = crate::fields::parse_tasks(&read(&file)?)?;
    let root_pids: BTreeSet<u64> = root_rows.iter().map(|t| t.pid).collect();
    if !root_pids.contains(&1) || !root_pids.contains(&peer.pid()) {
        return Err(CheckError::Mismatch(format!(
            "root reading {file} does not see pid 1 and pid {}",
            peer.pid()
        )));
    }
    let full = crate::fields::parse_tasks(&read(TASKS_FILE)?)?.len();
    if root_rows.len().abs_diff(full) > 5 {
        return Err(CheckError::Mismatch(format!(
            "root sees {} lines through {file}, {full} through /proc",
            root_rows.len()
        )));
    }
    drop(peer);
    drop(mount);
    Ok(format!(
        "namespace: {} pids inside ({} outside); hidepid: uid {uid} saw {} own processes, root saw {}",
        inner.rows.len(),
        outer,
        seen.rows.len(),
        root_rows.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(me: u64, rows: &[(u64, u64, u64)], procs: &[u64]) -> Seen {
        Seen {
            me,
            rows: rows.to_vec(),
            proc_pids: procs.to_vec(),
        }
    }

    #[test]
    fn namespace_lists() {
        assert_eq!(compare_namespace(&seen(1, &[(1, 0, 0)], &[1]), 80), Ok(()));
        let leak = seen(1, &[(1, 0, 0), (345, 0, 1)], &[1]);
        assert!(compare_namespace(&leak, 80).unwrap_err().contains("345"));
        let outer_ppid = seen(1, &[(1, 0, 211)], &[1]);
        assert!(
            compare_namespace(&outer_ppid, 80)
                .unwrap_err()
                .contains("ppid")
        );
        let many: Vec<(u64, u64, u64)> = (1..=10).map(|p| (p, 0, 0)).collect();
        let pids: Vec<u64> = (1..=10).collect();
        assert!(compare_namespace(&seen(1, &many, &pids), 80).is_err());
    }

    #[test]
    fn hidepid_lists() {
        let ok = seen(50, &[(40, 1000, 1), (50, 1000, 30)], &[40, 50]);
        assert_eq!(compare_hidepid(&ok, 1000, 40), Ok(()));
        let root = seen(50, &[(1, 0, 0), (40, 1000, 1), (50, 1000, 30)], &[]);
        assert!(
            compare_hidepid(&root, 1000, 40)
                .unwrap_err()
                .contains("uid 0")
        );
        let no_self = seen(50, &[(40, 1000, 1)], &[]);
        assert!(
            compare_hidepid(&no_self, 1000, 40)
                .unwrap_err()
                .contains("itself")
        );
        let no_peer = seen(50, &[(50, 1000, 1)], &[]);
        assert!(
            compare_hidepid(&no_peer, 1000, 40)
                .unwrap_err()
                .contains("40")
        );
    }
}
