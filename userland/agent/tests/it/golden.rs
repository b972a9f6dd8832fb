use crate::support::*;
use procpulse_agent::SourceMode;
use std::path::Path;

/// Replaces the fields that vary between runs, after checking their shape.
fn normalise(mut v: serde_json::Value) -> serde_json::Value {
    let id = v["sample_id"].as_str().unwrap().to_owned();
    id_seq(&id, "test-host");
    let at = v["collected_at"].as_str().unwrap().to_owned();
    time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("collected_at {at}: {e}"));
    v["sample_id"] = "<sample_id>".into();
    v["collected_at"] = "<collected_at>".into();
    v
}

/// On the walk, `uid` is the owner of the fixture's `<pid>` directory (whoever checked
/// the tree out): checked against it and its name, then replaced.
fn normalise_owners(mut v: serde_json::Value, root: &Path) -> serde_json::Value {
    use std::os::unix::fs::MetadataExt;
    for row in v["top"].as_array_mut().unwrap() {
        let pid = row["pid"].as_u64().unwrap();
        let owner = std::fs::metadata(root.join(pid.to_string())).unwrap().uid();
        assert_eq!(row["uid"], owner, "{row}");
        let passwd = std::fs::read_to_string(fixture("../passwd")).unwrap();
        let want = procpulse_agent::users::parse_passwd(&passwd).name(owner);
        assert_eq!(row["user"], want.as_str(), "{row}");
        row["uid"] = "<owner of /proc/<pid>>".into();
        row["user"] = "<its name>".into();
    }
    v
}

/// Compares with the golden file; `UPDATE_GOLDEN=1` rewrites it.
fn check_golden(name: &str, got: &serde_json::Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(name);
    let pretty = serde_json::to_string_pretty(got).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &pretty).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(pretty, want, "snapshot differs from {}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procfs_fixture_matches_golden() {
    let a = start(config(&fixture("procfs"), SourceMode::Procfs)).await;
    let (status, v) = get_json(&a.url("/api/v1/snapshot")).await;
    assert_eq!(status, 200, "{v}");
    // The snapshot passes ingest's own validation.
    let snap: procpulse_model::Snapshot = serde_json::from_value(v.clone()).unwrap();
    procpulse_model::validate(&snap).unwrap();
    check_golden(
        "snapshot_procfs.json",
        &normalise_owners(normalise(v), &fixture("procfs")),
    );
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmod_fixture_matches_golden() {
    let a = start(config(&fixture("kmod"), SourceMode::Kmod)).await;
    let (status, v) = get_json(&a.url("/api/v1/snapshot")).await;
    assert_eq!(status, 200, "{v}");
    let snap: procpulse_model::Snapshot = serde_json::from_value(v.clone()).unwrap();
    procpulse_model::validate(&snap).unwrap();
    check_golden("snapshot_kmod.json", &normalise(v));
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procfs_fixture_counts_every_nasty_case() {
    let a = start(config(&fixture("procfs"), SourceMode::Procfs)).await;
    let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
    let p = &v["procs"];
    // 1 and 2 are captured (S), 812 S, 900 Z, 901 T, 902 t, 903 I, 904 D, 907 R;
    // 905 (truncated stat) and 906 (no stat) are skipped.
    assert_eq!(p["total"], 9, "{p}");
    assert_eq!(
        (
            &p["sleeping"],
            &p["zombie"],
            &p["stopped"],
            &p["traced"],
            &p["idle"],
            &p["disk_sleep"],
            &p["running"]
        ),
        (
            &3.into(),
            &1.into(),
            &1.into(),
            &1.into(),
            &1.into(),
            &1.into(),
            &1.into()
        )
    );
    let (_, t) = get_json(&a.url("/api/v1/processes?top=50&sort=rss")).await;
    let comms: Vec<&str> = t["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["comm"].as_str().unwrap())
        .collect();
    for c in [
        "(sd-pam)",
        "a b) c",
        "123456789012345",
        "kworker/0:1-events",
        "busy loop",
    ] {
        assert!(comms.contains(&c), "{c} missing from {comms:?}");
    }
    assert_eq!(t["total"], 9);
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_bytes_are_exactly_serdes_serialization() {
    // The handler splices the sample's cached `top` JSON into the snapshot: the bytes must
    // be exactly what serializing the whole Snapshot writes, on every request.
    for (name, mode) in [("procfs", SourceMode::Procfs), ("kmod", SourceMode::Kmod)] {
        let a = start(config(&fixture(name), mode)).await;
        for _ in 0..3 {
            let body = client()
                .get(a.url("/api/v1/snapshot"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let snap: procpulse_model::Snapshot = serde_json::from_slice(&body).unwrap();
            assert!(!snap.top.is_empty(), "{name}: fixture has processes");
            assert_eq!(
                String::from_utf8(body.to_vec()).unwrap(),
                serde_json::to_string(&snap).unwrap(),
                "{name}"
            );
        }
        a.stop().await;
    }
}
