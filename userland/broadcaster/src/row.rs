//! A stored sample ("row") as it travels on the wire: the snapshot JSON of docs/design.md §3 plus
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

    /// [`row`] as a snapshot v2 row of a host with `cpus` CPUs (the model's v2 fixture
    /// values for modes, RAM and pressure; usages with two decimals, as the agent sends).
    pub(crate) fn row_v2(id: i64, host: &str, secs: i64, cpus: u32) -> Row {
        let mut r = row(id, host, secs);
        let v2: Snapshot =
            serde_json::from_str(include_str!("../../model/tests/fixtures/snapshot_v2.json"))
                .unwrap();
        let s = &mut r.snapshot;
        s.cpu.cores = cpus;
        s.cpu.modes = v2.cpu.modes;
        s.cpu.per_cpu = (0..cpus)
            .map(|cpu| procpulse_model::CoreUsage {
                cpu,
                usage_percent: f64::from((cpu * 1543 + 77) % 10_000) / 100.0,
            })
            .collect();
        s.ram = v2.ram.clone();
        s.pressure = v2.pressure;
        s.top = v2.top.clone();
        r
    }

    #[test]
    fn a_v2_row_keeps_its_v2_fields_on_the_wire_and_lite_drops_only_top() {
        let r = row_v2(8, "vm-2", 1, 64);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["cpu"]["per_cpu"].as_array().unwrap().len(), 64);
        assert_eq!(v["cpu"]["modes"]["steal"], 2.0);
        assert_eq!(v["ram"]["swap_used_kb"], 1048572);
        assert_eq!(v["pressure"]["memory"]["full"]["avg10"], 0.5);
        assert_eq!(v["top"][0]["user"], "alice");
        let back: Snapshot = serde_json::from_value(v).unwrap();
        assert_eq!(back, r.snapshot);
        let lite: serde_json::Value = serde_json::from_str(&r.to_json_lite()).unwrap();
        assert!(lite.get("top").is_none());
        let mut no_top = r.snapshot.clone();
        no_top.top.clear();
        assert_eq!(serde_json::from_value::<Snapshot>(lite).unwrap(), no_top);
        // A v1 row has none of the v2 keys.
        let v1: serde_json::Value = serde_json::from_str(&row(9, "vm-1", 1).to_json()).unwrap();
        assert!(v1["cpu"].get("per_cpu").is_none() && v1["cpu"].get("modes").is_none());
        assert!(v1.get("pressure").is_none() && v1["ram"].get("buffers_kb").is_none());
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
