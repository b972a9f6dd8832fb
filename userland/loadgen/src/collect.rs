//! Phase 1, `collect`: goose users GET snapshots from an agent; the valid ones with a
//! `sample_id` not seen before are kept, until `--target-records` are (then a transaction
//! pulls goose's killswitch) or `--run-time` ends. The record file is then written
//! atomically ([`crate::records::write_atomic`]) — also after Ctrl-C, with what was
//! collected so far, so the file on disk is always either absent or complete.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::goose::GooseResponse;
use goose::prelude::*;

use crate::locust_csv::{CsvFiles, LocustStats};
use crate::progress::{self, Every};
use crate::records::{Record, write_atomic};
use crate::wait::WaitRange;
use crate::{LoadgenError, PhaseEnd, goose_error, phase_end};

/// What a collect phase needs.
#[derive(Clone)]
pub struct CollectPlan {
    /// goose's configuration, host/users/rates/run time resolved.
    pub goose: GooseConfiguration,
    /// Wait after each request.
    pub wait: WaitRange,
    /// Stop at this many records.
    pub target_records: u64,
    /// Where to write them.
    pub out: PathBuf,
    /// The snapshot route.
    pub path: String,
    /// Progress line period (zero: none).
    pub progress_interval: Duration,
    /// Locust CSV prefix (`--csv`).
    pub csv: Option<String>,
}

impl std::fmt::Debug for CollectPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectPlan")
            .field("host", &self.goose.host)
            .field("users", &self.goose.users)
            .field("wait", &self.wait)
            .field("target_records", &self.target_records)
            .field("out", &self.out)
            .field("path", &self.path)
            .field("progress_interval", &self.progress_interval)
            .field("csv", &self.csv)
            .finish_non_exhaustive()
    }
}

/// What a collect phase did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectReport {
    /// Records written to the file (0: no file was written).
    pub written: u64,
    /// The target.
    pub target_records: u64,
    /// Responses received (any status).
    pub requests: u64,
    /// 2xx responses that were not valid snapshots.
    pub invalid: u64,
    /// Valid snapshots whose `sample_id` was already kept.
    pub duplicates: u64,
    /// Requests that failed (connection error or non-2xx).
    pub failed: u64,
    /// How the phase ended.
    pub end: PhaseEnd,
    /// Wall time of the load test (start-up, ramp-up and shutdown included).
    pub elapsed: Duration,
    /// From the first request sent to the last response received: the span request
    /// rates are computed over (as Locust computes its Requests/s).
    pub active: Duration,
}

impl CollectReport {
    /// One summary line.
    pub fn summary(&self, out: &std::path::Path) -> String {
        let secs = self.active.as_secs_f64();
        format!(
            "collect: {} of {} records -> {} | requests {} ({:.1}/s over {:.1} s) | invalid {} | duplicates {} | failed {} | ended: {} after {:.1} s",
            self.written,
            self.target_records,
            if self.written > 0 {
                out.display().to_string()
            } else {
                "no file".into()
            },
            self.requests,
            if secs > 0.0 {
                self.requests as f64 / secs
            } else {
                0.0
            },
            secs,
            self.invalid,
            self.duplicates,
            self.failed,
            self.end,
            self.elapsed.as_secs_f64(),
        )
    }
}

/// The kept records and the ids seen.
#[derive(Debug, Default)]
struct Store {
    ids: HashSet<String>,
    records: Vec<Record>,
}

#[derive(Debug)]
struct State {
    store: Mutex<Store>,
    target: u64,
    target_reached: AtomicBool,
    requests: AtomicU64,
    invalid: AtomicU64,
    duplicates: AtomicU64,
    failed: AtomicU64,
    /// Reference for the two instants below, in nanoseconds after it.
    base: Instant,
    first_sent_ns: AtomicU64,
    last_received_ns: AtomicU64,
    /// Locust CSV stats, when `--csv` is given.
    csv: Option<Arc<LocustStats>>,
}

/// What happened to one response body.
#[derive(Debug, PartialEq, Eq)]
enum Kept {
    New { count: u64 },
    Duplicate,
    Full,
}

impl State {
    fn nanos_since_base(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// First request to last response (zero before any response).
    fn active(&self) -> Duration {
        let first = self.first_sent_ns.load(Ordering::Relaxed);
        let last = self.last_received_ns.load(Ordering::Relaxed);
        Duration::from_nanos(last.saturating_sub(first))
    }

    fn records(&self) -> u64 {
        self.store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .records
            .len() as u64
    }

    /// Logs the progress line: records/target, rate, requests, errors, elapsed, ETA.
    fn progress(&self, started: Instant) {
        let elapsed = started.elapsed();
        let records = self.records();
        let requests = self.requests.load(Ordering::Relaxed);
        let errors = self.failed.load(Ordering::Relaxed) + self.invalid.load(Ordering::Relaxed);
        let rate = progress::rate(records, elapsed);
        let eta = progress::eta(self.target.saturating_sub(records), rate);
        tracing::info!(
            "collect: {records}/{} records | {rate:.1}/s | {requests} requests | errors {errors} | {} elapsed | ETA {}",
            self.target,
            progress::human(Some(elapsed)),
            progress::human(eta),
        );
    }

    fn log_csv(&self, name: &str, sent: Instant, bytes: u64, failed: bool, user: usize) {
        if let Some(csv) = &self.csv {
            csv.log("GET", name, sent.elapsed(), bytes, failed, user);
        }
    }

    fn keep(&self, record: Record) -> Kept {
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if store.records.len() as u64 >= self.target {
            return Kept::Full;
        }
        if !store.ids.insert(record.sample_id.clone()) {
            return Kept::Duplicate;
        }
        store.records.push(record);
        Kept::New {
            count: store.records.len() as u64,
        }
    }
}

/// Runs the collect phase and writes the record file.
pub async fn collect(plan: CollectPlan) -> Result<CollectReport, LoadgenError> {
    let csv = match &plan.csv {
        Some(prefix) => Some(crate::csv_files(prefix)?),
        None => None,
    };
    let state = Arc::new(State {
        store: Mutex::new(Store::default()),
        target: plan.target_records,
        target_reached: AtomicBool::new(false),
        requests: AtomicU64::new(0),
        invalid: AtomicU64::new(0),
        duplicates: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        base: Instant::now(),
        first_sent_ns: AtomicU64::new(u64::MAX),
        last_received_ns: AtomicU64::new(0),
        csv: csv.as_ref().map(|_| Arc::new(LocustStats::new())),
    });
    let path: Arc<str> = plan.path.clone().into();
    let st = state.clone();
    let get_snapshot: TransactionFunction = Arc::new(move |user| {
        let st = st.clone();
        let path = path.clone();
        Box::pin(async move { get_one(user, &st, &path).await })
    });

    let mut scenario = Scenario::new("collect");
    if plan.wait.max > Duration::ZERO {
        scenario = scenario
            .set_wait_time(plan.wait.min, plan.wait.max)
            .map_err(goose_error)?;
    }
    scenario =
        scenario.register_transaction(Transaction::new(get_snapshot).set_name("get snapshot"));

    let started = Instant::now();
    let ticking = [
        (!plan.progress_interval.is_zero()).then(|| {
            let st = state.clone();
            progress::every(plan.progress_interval, move || st.progress(started))
        }),
        csv_task(&csv, &state.csv),
    ];
    let result = match GooseAttack::initialize_with_config(plan.goose.clone()) {
        Ok(attack) => attack.register_scenario(scenario).execute().await,
        Err(e) => Err(e),
    };
    let elapsed = started.elapsed();
    progress::stop_all(ticking).await;

    let records = {
        let mut store = state.store.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut store.records)
    };
    let end = phase_end(&result, state.target_reached.load(Ordering::Acquire));
    // Write whatever is complete — even after a failed threshold or Ctrl-C.
    if !records.is_empty() {
        write_atomic(&plan.out, &records).map_err(|source| LoadgenError::Write {
            path: plan.out.clone(),
            source,
        })?;
    }
    // The CSV after the records: failing to write it must not lose the collection.
    if let (Some((files, _)), Some(stats)) = (&csv, &state.csv) {
        files.write(stats).map_err(|source| LoadgenError::Write {
            path: plan.csv.clone().unwrap_or_default().into(),
            source,
        })?;
    }
    let report = CollectReport {
        written: records.len() as u64,
        target_records: plan.target_records,
        requests: state.requests.load(Ordering::Relaxed),
        invalid: state.invalid.load(Ordering::Relaxed),
        duplicates: state.duplicates.load(Ordering::Relaxed),
        failed: state.failed.load(Ordering::Relaxed),
        end,
        elapsed,
        active: state.active(),
    };
    if let Err(e) = result {
        return Err(LoadgenError::Goose {
            message: goose_error(e).to_string(),
            summary: (report.requests > 0).then(|| report.summary(&plan.out)),
        });
    }
    if let Some((_, [stats, history])) = &csv {
        println!(
            "collect: Locust CSV -> {}, {}",
            stats.display(),
            history.display()
        );
    }
    Ok(report)
}

/// The task writing the Locust CSV files every second, if `--csv` was given.
pub(crate) fn csv_task(
    files: &Option<(Arc<CsvFiles>, [PathBuf; 2])>,
    stats: &Option<Arc<LocustStats>>,
) -> Option<Every> {
    let (Some((files, _)), Some(stats)) = (files, stats) else {
        return None;
    };
    let files = files.clone();
    let stats = stats.clone();
    let mut warned = false;
    Some(progress::every(crate::locust_csv::INTERVAL, move || {
        if let Err(e) = files.write(&stats)
            && !std::mem::replace(&mut warned, true)
        {
            tracing::warn!(error = %e, "Cannot write the Locust CSV files");
        }
    }))
}

/// One transaction: GET a snapshot and keep it if it is valid and new.
async fn get_one(user: &mut GooseUser, st: &State, path: &str) -> TransactionResult {
    if st.target_reached.load(Ordering::Acquire) {
        // The killswitch is pulled; don't add load while goose stops the users.
        return Ok(());
    }
    st.first_sent_ns
        .fetch_min(st.nanos_since_base(), Ordering::Relaxed);
    let sent = Instant::now();
    let user_index = user.weighted_users_index;
    let GooseResponse {
        mut request,
        response,
    } = user.get_named(path, "snapshot").await?;
    st.requests.fetch_add(1, Ordering::Relaxed);
    st.last_received_ns
        .fetch_max(st.nanos_since_base(), Ordering::Relaxed);
    let response = match response {
        Ok(r) if r.status().is_success() => r,
        // goose already counted the failure (connection error or status).
        _ => {
            st.failed.fetch_add(1, Ordering::Relaxed);
            st.log_csv(path, sent, 0, true, user_index);
            return Ok(());
        }
    };
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            st.failed.fetch_add(1, Ordering::Relaxed);
            st.log_csv(path, sent, 0, true, user_index);
            return user.set_failure(&format!("body: {e}"), &mut request, None, None);
        }
    };
    let record = Record::from_body(&body);
    st.log_csv(path, sent, body.len() as u64, record.is_err(), user_index);
    match record {
        Ok(record) => match st.keep(record) {
            Kept::New { count } if count == st.target => {
                st.target_reached.store(true, Ordering::Release);
                goose::trigger_killswitch(&format!("collected the target of {count} records"));
            }
            Kept::New { .. } | Kept::Full => {}
            Kept::Duplicate => {
                st.duplicates.fetch_add(1, Ordering::Relaxed);
            }
        },
        Err(e) => {
            st.invalid.fetch_add(1, Ordering::Relaxed);
            // Tag by field so goose's error summary groups them.
            let crate::records::RecordError::Invalid(v) = &e;
            let tag = format!("invalid snapshot: {} {}", v.code(), v.field().unwrap_or(""));
            return user.set_failure(tag.trim_end(), &mut request, None, None);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Record {
        Record {
            sample_id: id.into(),
            json: format!("{{\"sample_id\":\"{id}\"}}"),
        }
    }

    #[test]
    fn store_keeps_unique_records_up_to_the_target() {
        let st = State {
            store: Mutex::new(Store::default()),
            target: 2,
            target_reached: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            invalid: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            base: Instant::now(),
            first_sent_ns: AtomicU64::new(u64::MAX),
            last_received_ns: AtomicU64::new(0),
            csv: None,
        };
        assert_eq!(st.active(), Duration::ZERO);
        assert_eq!(st.keep(record("a")), Kept::New { count: 1 });
        assert_eq!(st.keep(record("a")), Kept::Duplicate);
        assert_eq!(st.keep(record("b")), Kept::New { count: 2 });
        assert_eq!(st.keep(record("c")), Kept::Full);
    }
}
