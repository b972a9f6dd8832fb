//! The history tables (issue 15): migration defaults, rollup rows written and read back
//! by range and by host, on every backend of the run.

use crate::common;
use procpulse_storage::history::{self, MinAvgMax, RollupRow, Tier};
use time::OffsetDateTime;
use time::macros::datetime;

pub fn rollup(host: &str, bucket: OffsetDateTime, cpu: f64, swap: bool) -> RollupRow {
    let m = |v: f64| MinAvgMax {
        min: v - 1.0,
        avg: v,
        max: v + 1.0,
    };
    RollupRow {
        host: host.to_owned(),
        bucket,
        samples: 60,
        cpu: m(cpu),
        ram: m(40.0),
        swap: swap.then(|| m(5.5)),
        load1: m(0.75),
        zombies_max: 2,
        disk_sleep_max: 1,
        cpu_cores: 4,
        source: "kmod".to_owned(),
    }
}

/// The migration's rows carry the defaults `Tier::default_keep` defines, nothing folded.
#[tokio::test]
async fn the_migration_creates_the_tiers_with_the_default_retention() {
    for t in common::all().await {
        let tiers = history::tiers(&t.db).await.unwrap();
        let got: Vec<_> = tiers
            .iter()
            .map(|i| (i.tier, i.keep(), i.rolled_up_to))
            .collect();
        let want: Vec<_> = Tier::ALL
            .iter()
            .map(|t| (*t, Some(t.default_keep()), None))
            .collect();
        assert_eq!(got, want, "{:?}", t.db.backend());
    }
}

/// Rows replace by (host, bucket), read back by range [from, to) oldest first with a
/// limit, NULL swap round-trips as None, and hosts page in name order.
#[tokio::test]
async fn rollup_rows_read_back_by_range_and_hosts_page_in_name_order() {
    for t in common::all().await {
        let db = &t.db;
        let b = db.backend();
        let t0 = datetime!(2026-12-01 10:00 UTC);
        let min = |i: i64| t0 + time::Duration::minutes(i);
        let mut rows = Vec::new();
        for i in 0..5 {
            rows.push(rollup("vm-2", min(i), i as f64, i % 2 == 0));
        }
        rows.push(rollup("vm-1", min(1), 50.0, false));
        rows.push(rollup("vm-3", min(30), 60.0, true));
        history::replace_rollups(db, Tier::Minute, &rows)
            .await
            .unwrap();
        // A replacement of one bucket, not an addition.
        let newer = rollup("vm-2", min(2), 99.0, false);
        history::replace_rollups(db, Tier::Minute, std::slice::from_ref(&newer))
            .await
            .unwrap();

        let got = history::rollups(db, Tier::Minute, "vm-2", min(1), min(4), 100)
            .await
            .unwrap();
        let want = vec![rows[1].clone(), newer.clone(), rows[3].clone()];
        assert_eq!(got, want, "{b:?}");
        assert_eq!(got[1].swap, None);
        let two = history::rollups(db, Tier::Minute, "vm-2", min(0), min(60), 2)
            .await
            .unwrap();
        assert_eq!(two.len(), 2, "{b:?}");
        assert_eq!(two[0].bucket, min(0));
        // The hour table is separate.
        assert!(
            history::rollups(db, Tier::Hour, "vm-2", min(0), min(60), 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            history::rollups(db, Tier::Raw, "vm-2", min(0), min(60), 10)
                .await
                .is_err()
        );

        let hosts = |from, to, after, limit| {
            history::rollup_hosts(db, Tier::Minute, from, to, after, limit)
        };
        assert_eq!(
            hosts(min(0), min(60), None, 10).await.unwrap(),
            ["vm-1", "vm-2", "vm-3"]
        );
        assert_eq!(
            hosts(min(0), min(60), None, 2).await.unwrap(),
            ["vm-1", "vm-2"]
        );
        assert_eq!(
            hosts(min(0), min(60), Some("vm-2"), 2).await.unwrap(),
            ["vm-3"]
        );
        assert_eq!(hosts(min(2), min(30), None, 10).await.unwrap(), ["vm-2"]);
        assert!(hosts(min(31), min(60), None, 10).await.unwrap().is_empty());
        assert!(hosts(min(0), min(60), None, 0).await.unwrap().is_empty());

        // Raw rows: hosts by collected_at.
        let rows: Vec<_> = [("r-b", 5), ("r-a", 20), ("r-c", 40), ("r-b", 50)]
            .iter()
            .enumerate()
            .map(|(i, (host, m))| {
                let mut s = crate::schema::snapshot(&format!("raw-{i}"));
                s.host = (*host).to_owned();
                s.collected_at = min(*m);
                procpulse_storage::NewSample::from_snapshot(&s, "a", min(*m))
            })
            .collect();
        procpulse_storage::write::insert_samples(db, rows)
            .await
            .unwrap();
        let raw = |from, to, after| history::rollup_hosts(db, Tier::Raw, from, to, after, 10);
        assert_eq!(
            raw(min(0), min(60), None).await.unwrap(),
            ["r-a", "r-b", "r-c"]
        );
        assert_eq!(raw(min(10), min(45), Some("r-a")).await.unwrap(), ["r-c"]);
    }
}
