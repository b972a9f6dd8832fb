//! A snapshot's JSON on the request path: the same bytes serde writes for a
//! [`Snapshot`], made from borrowed parts (`SnapshotView`) with the top rows' JSON spliced
//! in from the background sample, where it is encoded once, instead of copied and
//! encoded again for every request.

use crate::sampler::Sample;
use procpulse_model::{Cpu, Snapshot, Source, TopProcess};
use time::OffsetDateTime;

/// First capacity of a snapshot's JSON (a snapshot with 10 top rows is ~1.4 KB), so
/// encoding does not reallocate.
const JSON_CAPACITY: usize = 2048;

/// Serializes exactly like [`Snapshot`] (same fields, order and formats) but borrows.
#[derive(serde::Serialize)]
struct SnapshotView<'a> {
    sample_id: &'a str,
    host: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    collected_at: OffsetDateTime,
    source: Source,
    cpu: &'a Cpu,
    ram: &'a procpulse_model::Ram,
    procs: &'a procpulse_model::Procs,
    #[serde(skip_serializing_if = "<[TopProcess]>::is_empty")]
    top: &'a [TopProcess],
    #[serde(skip_serializing_if = "Option::is_none")]
    pressure: Option<&'a procpulse_model::Pressure>,
}

impl<'a> SnapshotView<'a> {
    /// `snap` with `top` in place of its own rows (and its `pressure`).
    fn new(snap: &'a Snapshot, top: &'a [TopProcess]) -> Self {
        SnapshotView {
            sample_id: &snap.sample_id,
            host: &snap.host,
            collected_at: snap.collected_at,
            source: snap.source,
            cpu: &snap.cpu,
            ram: &snap.ram,
            procs: &snap.procs,
            top,
            pressure: snap.pressure.as_ref(),
        }
    }

    /// Without `top` and `pressure`, the two last fields, which the request path writes
    /// after it.
    fn head(snap: &'a Snapshot) -> Self {
        SnapshotView {
            pressure: None,
            ..SnapshotView::new(snap, &[])
        }
    }
}

/// `snap` (taken with an empty `top`) as JSON with `top` in place of its rows, exactly as
/// serde encodes a [`Snapshot`]; `top` are rows of `sample` (none without a sample),
/// whose encoding is cached in the sample.
pub(crate) fn encode(
    snap: &Snapshot,
    sample: Option<&Sample>,
    top: &[TopProcess],
) -> Result<Vec<u8>, serde_json::Error> {
    let view = SnapshotView::head(snap);
    let mut out = Vec::with_capacity(JSON_CAPACITY);
    serde_json::to_writer(&mut out, &view)?;
    debug_assert_eq!(out.last(), Some(&b'}'));
    out.pop();
    if let Some(sample) = sample {
        if !top.is_empty() {
            // `top` and `pressure` are the last fields: splice the sample's serialized
            // rows in before them (the same bytes serde would write, made once).
            let fresh;
            let cached: &[u8] = match sample.top_json.get() {
                Some((n, json)) if *n == top.len() => json,
                _ => {
                    fresh = serde_json::to_vec(top)?;
                    let _ = sample.top_json.set((top.len(), fresh.clone()));
                    &fresh
                }
            };
            out.extend_from_slice(b",\"top\":");
            out.extend_from_slice(cached);
        }
    }
    if let Some(p) = &snap.pressure {
        out.extend_from_slice(b",\"pressure\":");
        serde_json::to_writer(&mut out, p)?;
    }
    out.push(b'}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_serializes_exactly_like_snapshot() {
        let v1 = include_str!("../../model/tests/fixtures/snapshot_valid.json");
        let v2 = include_str!("../../model/tests/fixtures/snapshot_v2.json");
        for v in [v1, v2] {
            view_matches(serde_json::from_str(v).unwrap());
        }
    }

    fn view_matches(snap: Snapshot) {
        for top in [&snap.top[..], &[]] {
            let mut owned = snap.clone();
            owned.top = top.to_vec();
            let view = SnapshotView::new(&snap, top);
            assert_eq!(
                serde_json::to_string(&view).unwrap(),
                serde_json::to_string(&owned).unwrap()
            );
        }
    }
}
