//! A stored sample ("row") as it travels on the wire: the snapshot JSON of SPEC §3 plus
//! `id` (row id), `route` (`a`/`b`) and `received_at` (RFC 3339).

use procpulse_model::Snapshot;
use serde::Serialize;
use time::OffsetDateTime;

/// One row of the `samples` table, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Row id (auto-increment primary key); the broadcaster's cursor.
    pub id: i64,
    /// Ingest route that stored it (`a` or `b`).
    pub route: String,
    /// When ingest received it.
    pub received_at: OffsetDateTime,
    /// The sample itself.
    pub snapshot: Snapshot,
}

#[derive(Serialize)]
struct Wire<'a> {
    id: i64,
    route: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    received_at: OffsetDateTime,
    #[serde(flatten)]
    snapshot: &'a Snapshot,
}

impl Row {
    /// The row as wire JSON, with its `top` table.
    pub fn to_json(&self) -> String {
        self.encode(&self.snapshot)
    }

    /// The row as wire JSON without its `top` table (history points other than a host's
    /// newest: the dashboard only shows the newest table, and `top` is most of a row's
    /// size).
    pub fn to_json_lite(&self) -> String {
        if self.snapshot.top.is_empty() {
            return self.to_json();
        }
        let mut lite = self.snapshot.clone();
        lite.top = Vec::new();
        self.encode(&lite)
    }

    fn encode(&self, snapshot: &Snapshot) -> String {
        let wire = Wire {
            id: self.id,
            route: &self.route,
            received_at: self.received_at,
            snapshot,
        };
        // A Snapshot holds only strings, numbers and RFC 3339 times: it always encodes.
        serde_json::to_string(&wire).unwrap_or_else(|_| "{}".to_owned())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use procpulse_model::{Cpu, Procs, Ram, Source, TopProcess};

    /// A row of `host` with `id`, collected `secs` after 2026-11-23T10:00:00Z.
    pub(crate) fn row(id: i64, host: &str, secs: i64) -> Row {
        let at = time::macros::datetime!(2026-11-23 10:00:00 UTC) + time::Duration::seconds(secs);
        Row {
            id,
            route: if id % 2 == 0 { "a" } else { "b" }.to_owned(),
            received_at: at,
            snapshot: Snapshot {
                sample_id: format!("{host}-{id}"),
                host: host.to_owned(),
                collected_at: at,
                source: Source::Procfs,
                cpu: Cpu {
                    usage_percent: 12.5,
                    cores: 2,
                    load1: 0.5,
                    load5: 0.4,
                    load15: 0.3,
                    modes: None,
                    per_cpu: Vec::new(),
                },
                ram: Ram {
                    total_kb: 1000,
                    free_kb: 100,
                    available_kb: 400,
                    used_kb: 600,
                    cached_kb: 200,
                    swap_total_kb: 0,
                    swap_free_kb: 0,
                    used_percent: 60.0,
                    buffers_kb: None,
                    shared_kb: None,
                    swap_used_kb: None,
                },
                procs: Procs::default(),
                top: vec![TopProcess {
                    pid: 1,
                    ppid: 0,
                    comm: "init (x)".to_owned(),
                    state: "S".to_owned(),
                    rss_kb: 10,
                    cpu_percent: 0.0,
                    uid: None,
                    user: None,
                    threads: None,
                    nice: None,
                }],
                pressure: None,
            },
        }
    }

    #[test]
    fn wire_row_is_snapshot_plus_id_route_received_at() {
        let r = row(7, "vm-1", 3);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["id"], 7);
        assert_eq!(v["route"], "b");
        assert_eq!(v["received_at"], "2026-11-23T10:00:03Z");
        assert_eq!(v["collected_at"], "2026-11-23T10:00:03Z");
        assert_eq!(v["host"], "vm-1");
        assert_eq!(v["cpu"]["usage_percent"], 12.5);
        assert_eq!(v["top"][0]["comm"], "init (x)");
        // The snapshot part decodes back into the model type.
        let back: Snapshot = serde_json::from_value(v).unwrap();
        assert_eq!(back, r.snapshot);
        let lite: serde_json::Value = serde_json::from_str(&r.to_json_lite()).unwrap();
        assert!(lite.get("top").is_none());
        assert_eq!(lite["id"], 7);
    }
}
