//! Stats per host/route and averages over a window.

use crate::common;
use crate::schema::snapshot;
use procpulse_storage::write::insert_samples;
use procpulse_storage::{NewSample, read};
use time::{Duration, OffsetDateTime};

#[tokio::test]
async fn stats_and_averages_group_by_host_and_route() {
    for t in common::all().await {
        let db = &t.db;
        let now = OffsetDateTime::now_utc();
        let mut rows = Vec::new();
        for (i, (host, route, cpu, age_s)) in [
            ("h1", "a", 10.0, 10),
            ("h1", "b", 30.0, 20),
            ("h2", "a", 50.0, 30),
            ("h2", "a", 90.0, 3600), // outside a 5-minute window
        ]
        .into_iter()
        .enumerate()
        {
            let mut s = snapshot(&format!("s{i}"));
            s.host = host.into();
            s.cpu.usage_percent = cpu;
            s.collected_at = now - Duration::seconds(age_s);
            rows.push(NewSample::from_snapshot(&s, route, now));
        }
        insert_samples(db, rows).await.unwrap();
        let stats = read::stats(db).await.unwrap();
        assert_eq!(stats.total_rows, 4);
        let hosts: Vec<_> = stats
            .hosts
            .iter()
            .map(|h| (h.host.as_str(), h.rows))
            .collect();
        assert_eq!(hosts, [("h1", 2), ("h2", 2)]);
        let routes: Vec<_> = stats
            .routes
            .iter()
            .map(|r| (r.route.as_str(), r.rows))
            .collect();
        assert_eq!(routes, [("a", 3), ("b", 1)]);
        let h2 = &stats.hosts[1];
        assert!(h2.last_collected_at - h2.first_collected_at > Duration::minutes(59));

        let avg = read::averages(db, now - Duration::minutes(5), None)
            .await
            .unwrap();
        let got: Vec<_> = avg
            .iter()
            .map(|a| (a.host.as_str(), a.samples, a.cpu_usage_percent))
            .collect();
        assert_eq!(
            got,
            [("h1", 2, 20.0), ("h2", 1, 50.0)],
            "{:?}",
            db.backend()
        );
        let one = read::averages(db, now - Duration::minutes(5), Some("h2"))
            .await
            .unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].ram_used_percent, 50.0);
    }
}
