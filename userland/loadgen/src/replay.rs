//! Phase 2, `replay`: goose users POST the records of the file to the ingest split, each
//! exactly once. A shared [`Cursor`] hands each record to one user; a record is finished
//! only when a 2xx acknowledges it (its `"route"` and `"duplicates"` are tallied), when a
//! 4xx refuses it (counted as rejected, never retried), or after `--max-attempts` failed
//! attempts. A 503/429 puts the record back with `Retry-After` as its earliest retry;
//! connection errors and other 5xx put it back at once. When the last record is finished
//! a transaction pulls goose's killswitch to end the phase.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::goose::GooseResponse;
use goose::prelude::*;

use crate::cursor::{Cursor, Ticket};
use crate::locust_csv::LocustStats;
use crate::progress;
use crate::records::Record;
use crate::tally::{Ack, Tally, Tolerance, UNKNOWN_ROUTE};
use crate::wait::WaitRange;
use crate::{LoadgenError, PhaseEnd, goose_error, phase_end};

/// How long an idle user (nothing due yet) pauses before asking the cursor again, so a
/// `--wait 0s` run does not spin.
const IDLE_PAUSE: Duration = Duration::from_millis(50);

/// Most rejection messages kept for the final report.
const MAX_REJECTION_SAMPLES: usize = 5;

/// What a replay phase needs.
#[derive(Clone)]
pub struct ReplayPlan {
    /// goose's configuration, host/users/rates/run time resolved.
    pub goose: GooseConfiguration,
    /// The records to send.
    pub records: Arc<Vec<Record>>,
    /// Wait after each record.
    pub wait: WaitRange,
    /// Send again and again with fresh sample_ids.
    pub looping: bool,
    /// Print progress every N acknowledged records.
    pub progress_every: u64,
    /// Attempts before a record is given up.
    pub max_attempts: u32,
    /// Cap on honoured `Retry-After`.
    pub max_retry_after: Duration,
    /// Bearer token.
    pub token: Option<String>,
    /// The ingest route.
    pub path: String,
    /// Expected routes and tolerance for the split check.
    pub split: Option<(Vec<String>, Tolerance)>,
    /// Progress line period (zero: none).
    pub progress_interval: Duration,
    /// Locust CSV prefix (`--csv`).
    pub csv: Option<String>,
}

impl std::fmt::Debug for ReplayPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayPlan")
            .field("host", &self.goose.host)
            .field("users", &self.goose.users)
            .field("records", &self.records.len())
            .field("wait", &self.wait)
            .field("looping", &self.looping)
            .field("path", &self.path)
            .field("progress_interval", &self.progress_interval)
            .field("csv", &self.csv)
            .finish_non_exhaustive()
    }
}

/// What a replay phase did.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    /// Records in the file.
    pub records: usize,
    /// Whether it looped.
    pub looping: bool,
    /// The counts.
    pub tally: Tally,
    /// Some rejection messages (`status: body`).
    pub rejections: Vec<String>,
    /// How the phase ended.
    pub end: PhaseEnd,
    /// Wall time of the load test.
    pub elapsed: Duration,
    /// The split check's verdict, if one was asked for.
    pub split: Option<Result<(), crate::tally::SplitError>>,
}

impl ReplayReport {
    /// Whether every record was acknowledged, none refused or given up, and the split
    /// (if checked) was within tolerance. A `--loop` run only needs the latter two.
    pub fn success(&self) -> bool {
        let complete = self.looping || self.tally.acked() == self.records as u64;
        complete
            && self.tally.rejected == 0
            && self.tally.gave_up == 0
            && !matches!(self.split, Some(Err(_)))
    }

    /// The final table and verdict lines.
    pub fn render(&self) -> String {
        let mut out = self.tally.table();
        let secs = self.elapsed.as_secs_f64();
        out.push_str(&format!(
            "\nreplay: {} of {} records acknowledged in {:.1} s ({:.1}/s) | ended: {}",
            self.tally.acked(),
            if self.looping {
                "∞ (loop)".to_string()
            } else {
                self.records.to_string()
            },
            secs,
            if secs > 0.0 {
                self.tally.acked() as f64 / secs
            } else {
                0.0
            },
            self.end,
        ));
        for r in &self.rejections {
            out.push_str(&format!("\nrejected: {r}"));
        }
        match &self.split {
            Some(Ok(())) => out.push_str("\nsplit: within tolerance"),
            Some(Err(e)) => out.push_str(&format!("\nsplit: FAILED: {e}")),
            None => {}
        }
        out
    }
}

#[derive(Debug)]
struct State {
    records: Arc<Vec<Record>>,
    cursor: Cursor,
    tally: Mutex<Tally>,
    rejections: Mutex<Vec<String>>,
    total: Option<usize>,
    progress_every: u64,
    max_attempts: u32,
    max_retry_after: Duration,
    token: Option<String>,
    path: String,
    csv: Option<Arc<LocustStats>>,
}

impl State {
    /// Logs the time-based progress line: finished/total, rate, errors, elapsed, ETA.
    fn progress(&self, started: Instant) {
        let elapsed = started.elapsed();
        let finished = self.cursor.finished() as u64;
        let (acked, rejected, gave_up, retried) = {
            let t = self.lock_tally();
            (
                t.acked(),
                t.rejected,
                t.gave_up,
                t.retried_busy + t.retried_error,
            )
        };
        let rate = progress::rate(acked, elapsed);
        let total = self.total.map(|t| t as u64);
        let eta = total.and_then(|t| progress::eta(t.saturating_sub(finished), rate));
        tracing::info!(
            "replay: {finished}/{} records finished | {rate:.1} acked/s | errors: rejected {rejected}, gave up {gave_up}, retried {retried} | {} elapsed | ETA {}",
            total.map_or("∞".to_owned(), |t| t.to_string()),
            progress::human(Some(elapsed)),
            if total.is_some() {
                progress::human(eta)
            } else {
                "-".to_owned()
            },
        );
    }

    fn log_csv(&self, sent: Instant, bytes: u64, failed: bool, user: usize) {
        if let Some(csv) = &self.csv {
            csv.log("POST", &self.path, sent.elapsed(), bytes, failed, user);
        }
    }

    fn lock_tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks a ticket finished; pulls the killswitch after the last one.
    fn finish(&self) {
        let finished = self.cursor.finish();
        if self.total.is_some_and(|t| finished >= t) {
            goose::trigger_killswitch(&format!("all {finished} records finished"));
        }
    }

    fn acknowledged(&self, ack: &Ack) {
        {
            let mut tally = self.lock_tally();
            tally.ack(ack);
            let acked = tally.acked();
            if acked % self.progress_every == 0 {
                println!("{}", tally.progress_line(self.total));
            }
        }
        self.finish();
    }

    /// A failed attempt: back to the cursor, or given up after too many.
    fn failed_attempt(&self, mut ticket: Ticket, retry_after: Option<Duration>) {
        ticket.attempts += 1;
        if ticket.attempts >= self.max_attempts {
            self.lock_tally().gave_up += 1;
            self.finish();
            return;
        }
        ticket.not_before = retry_after.map(|d| Instant::now() + d);
        self.cursor.give_back(ticket);
    }
}

/// `Retry-After` in seconds (an HTTP date is taken as 1 s), capped at `max`.
pub fn retry_after(header: Option<&str>, max: Duration) -> Duration {
    let secs = header
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1);
    Duration::from_secs(secs).min(max)
}

/// Runs the replay phase.
pub async fn replay(plan: ReplayPlan) -> Result<ReplayReport, LoadgenError> {
    let csv = match &plan.csv {
        Some(prefix) => Some(crate::csv_files(prefix)?),
        None => None,
    };
    let state = Arc::new(State {
        cursor: Cursor::new(plan.records.len(), plan.looping),
        total: (!plan.looping).then_some(plan.records.len()),
        records: plan.records.clone(),
        tally: Mutex::new(Tally::default()),
        rejections: Mutex::new(Vec::new()),
        progress_every: plan.progress_every.max(1),
        max_attempts: plan.max_attempts.max(1),
        max_retry_after: plan.max_retry_after,
        token: plan.token.clone(),
        path: plan.path.clone(),
        csv: csv.as_ref().map(|_| Arc::new(LocustStats::new())),
    });
    let st = state.clone();
    let send: TransactionFunction = Arc::new(move |user| {
        let st = st.clone();
        Box::pin(async move { send_one(user, &st).await })
    });
    let mut scenario = Scenario::new("replay");
    if plan.wait.max > Duration::ZERO {
        scenario = scenario
            .set_wait_time(plan.wait.min, plan.wait.max)
            .map_err(goose_error)?;
    }
    scenario = scenario.register_transaction(Transaction::new(send).set_name("post record"));

    let started = Instant::now();
    let ticking = [
        (!plan.progress_interval.is_zero()).then(|| {
            let st = state.clone();
            progress::every(plan.progress_interval, move || st.progress(started))
        }),
        crate::collect::csv_task(&csv, &state.csv),
    ];
    let result = match GooseAttack::initialize_with_config(plan.goose.clone()) {
        Ok(attack) => attack.register_scenario(scenario).execute().await,
        Err(e) => Err(e),
    };
    let elapsed = started.elapsed();
    progress::stop_all(ticking).await;
    if let (Some((files, [stats, history])), Some(s)) = (&csv, &state.csv) {
        files.write(s).map_err(|source| LoadgenError::Write {
            path: stats.clone(),
            source,
        })?;
        println!(
            "replay: Locust CSV -> {}, {}",
            stats.display(),
            history.display()
        );
    }

    let done = state.cursor.all_finished();
    let tally = state.lock_tally().clone();
    let rejections = state
        .rejections
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let split = plan
        .split
        .as_ref()
        .map(|(routes, tol)| tally.check_split(routes, *tol));
    let report = ReplayReport {
        records: plan.records.len(),
        looping: plan.looping,
        tally,
        rejections,
        end: phase_end(&result, done),
        elapsed,
        split,
    };
    if let Err(e) = result {
        return Err(LoadgenError::Goose {
            message: goose_error(e).to_string(),
            summary: (report.tally.acked() + report.tally.rejected > 0).then(|| report.render()),
        });
    }
    Ok(report)
}

/// One transaction: POST the next due record once and account for the answer.
async fn send_one(user: &mut GooseUser, st: &State) -> TransactionResult {
    let Some(ticket) = st.cursor.take() else {
        // Nothing due: everything is handed out, or waits for its Retry-After.
        tokio::time::sleep(IDLE_PAUSE).await;
        return Ok(());
    };
    let body = st.records[ticket.index].json_for_pass(ticket.pass);
    let sent = Instant::now();
    let user_index = user.weighted_users_index;
    let mut builder = user
        .get_request_builder(&GooseMethod::Post, &st.path)?
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = &st.token {
        builder = builder.bearer_auth(token);
    }
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path(st.path.as_str())
        .name("metrics")
        .set_request_builder(builder)
        .build();
    let GooseResponse {
        mut request,
        response,
    } = match user.request(request).await {
        Ok(r) => r,
        Err(e) => {
            st.log_csv(sent, 0, true, user_index);
            st.lock_tally().retried_error += 1;
            st.failed_attempt(ticket, None);
            return Err(e);
        }
    };
    let response = match response {
        Ok(r) => r,
        Err(_) => {
            // Connection refused/reset or timeout: goose counted it; retry elsewhere.
            st.log_csv(sent, 0, true, user_index);
            st.lock_tally().retried_error += 1;
            st.failed_attempt(ticket, None);
            return Ok(());
        }
    };
    let status = response.status().as_u16();
    match status {
        200..=299 => {
            let body = response.bytes().await;
            let len = body.as_ref().map_or(0, |b| b.len() as u64);
            let ack = body
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Ack>(&b).map_err(|e| e.to_string()));
            st.log_csv(sent, len, ack.is_err(), user_index);
            let ack = match ack {
                Ok(ack) => ack,
                Err(e) => {
                    // Acknowledged (2xx) but unreadable: count it, under an unknown route.
                    let _ =
                        user.set_failure(&format!("unreadable ack: {e}"), &mut request, None, None);
                    Ack {
                        accepted: 0,
                        duplicates: 0,
                        route: UNKNOWN_ROUTE.into(),
                    }
                }
            };
            st.acknowledged(&ack);
        }
        429 | 503 => {
            st.log_csv(sent, 0, true, user_index);
            let wait = retry_after(
                response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
                st.max_retry_after,
            );
            st.lock_tally().retried_busy += 1;
            st.failed_attempt(ticket, Some(wait));
        }
        400..=499 if status != 408 => {
            let text = response.text().await.unwrap_or_default();
            st.log_csv(sent, text.len() as u64, true, user_index);
            {
                let mut rej = st.rejections.lock().unwrap_or_else(|p| p.into_inner());
                if rej.len() < MAX_REJECTION_SAMPLES {
                    let id = &st.records[ticket.index].sample_id;
                    rej.push(format!("{id}: {status} {}", text.trim()));
                }
            }
            st.lock_tally().rejected += 1;
            st.finish();
        }
        _ => {
            st.log_csv(sent, 0, true, user_index);
            st.lock_tally().retried_error += 1;
            st.failed_attempt(ticket, None);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_values() {
        let max = Duration::from_secs(30);
        assert_eq!(retry_after(Some("2"), max), Duration::from_secs(2));
        assert_eq!(retry_after(Some(" 0 "), max), Duration::ZERO);
        assert_eq!(retry_after(Some("3600"), max), max);
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT"), max),
            Duration::from_secs(1)
        );
        assert_eq!(retry_after(None, max), Duration::from_secs(1));
    }
}
