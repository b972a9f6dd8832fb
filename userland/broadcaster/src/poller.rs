//! The poll loop: one query per interval however many clients are connected (more only
//! while a page comes back full), feeding the [`Hub`].
//!
//! The cursor starts at the current max id; the history of the last 15 minutes up to that
//! id is loaded once (for the hosts with a row collected within `--host-ttl`), then kept
//! up to date from the rows the loop delivers; after each poll the hub forgets hosts not
//! seen for `--host-ttl`. Raw `/api/v1/history` ranges are answered from that memory only
//! where it holds every row ([`crate::history::History::range`]): a loaded host once
//! [`check_loaded`] has counted its rows again, and never across rows the cursor gave
//! up on. Several replicas can run side by side: each has its own cursor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use procpulse_model::validate::MAX_FUTURE_SKEW;
use procpulse_service::Shutdown;
use procpulse_storage::StorageError;
use time::OffsetDateTime;
use tokio::time::MissedTickBehavior;

use crate::alerting::Alerting;
use crate::cursor::{Cursor, DEFAULT_GAP_GRACE};
use crate::feed::{Feed, HISTORY_LOAD_ROWS, PAGE_ROWS};
use crate::fleet::Fleet;
use crate::history::{History, WINDOW};
use crate::hub::Hub;
use crate::metrics::Metrics;

/// Most pages one poll reads before yielding to the next tick (a backlog of 100,000 rows
/// is fanned out over several ticks rather than in one burst).
pub const MAX_PAGES_PER_POLL: usize = 100;

/// What the poller starts from.
#[derive(Debug)]
pub struct Start {
    /// At the max id when loading.
    pub cursor: Cursor,
    /// Each host's last [`WINDOW`] up to the cursor.
    pub history: History,
    /// Each host's newest state.
    pub fleet: Fleet,
    /// Rows stored per route up to the cursor.
    pub routes: (u64, u64),
    /// The hosts loaded, for [`check_loaded`].
    pub to_check: Loaded,
}

/// What the start-up load read: `(host, from, rows)` for rows `id ≤ upto`.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The cursor's start.
    pub upto: i64,
    /// Each host, the start of its window and the rows read (`None`: cut by the limit).
    pub hosts: Vec<(String, OffsetDateTime, Option<usize>)>,
}

/// Loads the starting state: cursor at the current max id, the history and the fleet up
/// to it (hosts whose newest row was collected before `forget_before` are left out: they
/// would be evicted at the first poll, see [`crate::hub::HostSettings::forget_before`])
/// and the route counts. With `alerting`, each host's loaded rows are evaluated (quietly:
/// see [`Alerting::warm_up`]).
///
/// Runs the embedded migrations first (idempotent), so that a broadcaster started before
/// any ingest finds the table.
pub async fn load(
    feed: &Feed,
    forget_before: Option<OffsetDateTime>,
    alerting: Option<&Alerting>,
) -> Result<Start, StorageError> {
    feed.database().migrate().await?;
    let start = feed.max_id().await?;
    let mut history = History::default();
    let mut fleet = Fleet::default();
    let mut to_check = Vec::new();
    for host in feed.hosts().await? {
        let Some(newest) = feed.newest_collected_at(&host, start).await? else {
            continue;
        };
        if forget_before.is_some_and(|horizon| newest < horizon) {
            continue;
        }
        let from = newest - WINDOW;
        let rows = feed
            .host_rows(&host, from, None, start, HISTORY_LOAD_ROWS)
            .await?;
        // A load cut by its limit lacks the window's older rows: never whole.
        let whole = (rows.len() as i64) < HISTORY_LOAD_ROWS;
        to_check.push((host.clone(), from, whole.then_some(rows.len())));
        for row in &rows {
            let json = row.to_json().into();
            history.push_loaded(row, json);
            fleet.push(row);
        }
        if let Some(a) = alerting {
            a.warm_up(&rows);
        }
    }
    let routes = feed.route_counts(start).await?;
    Ok(Start {
        cursor: Cursor::new(start, DEFAULT_GAP_GRACE),
        history,
        fleet,
        routes,
        to_check: Loaded {
            upto: start,
            hosts: to_check,
        },
    })
}

/// Marks each loaded host whose window the load read whole as complete in memory
/// ([`History::mark_complete`]), once rows inserted before the load but committed after
/// it had `grace` to land: the load's rows are counted again (one indexed count a host)
/// and a host whose count grew (or could not be counted) is left to the database until
/// its window has passed.
/// Runs once, off the poll loop.
pub async fn check_loaded(
    feed: Feed,
    hub: Arc<Hub>,
    loaded: Loaded,
    grace: Duration,
    shutdown: Shutdown,
) {
    tokio::select! {
        _ = shutdown.wait() => return,
        _ = tokio::time::sleep(grace) => {}
    }
    // Where memory is complete for a host the check failed for: after any collected_at
    // a row committed late (inserted before the load) can have.
    let barrier = OffsetDateTime::now_utc() + MAX_FUTURE_SKEW;
    let (mut complete, mut failed) = (0, false);
    for (host, from, rows) in &loaded.hosts {
        let counted = if failed || rows.is_none() {
            None
        } else {
            match feed.count_rows(host, *from, loaded.upto).await {
                Ok(n) => Some(n),
                Err(error) => {
                    tracing::warn!(%error, "Cannot check the loaded history: raw ranges of loaded hosts come from the database for their next 15 minutes");
                    failed = true;
                    None
                }
            }
        };
        if counted.is_some() && counted == rows.map(|n| n as i64) {
            hub.mark_complete(host, *from);
            complete += 1;
        } else {
            hub.mark_complete(host, barrier);
        }
    }
    tracing::info!(
        hosts = complete,
        of = loaded.hosts.len(),
        "Loaded history checked"
    );
}

/// One poll: reads every new row (page by page) and publishes it.
pub async fn poll_once(
    feed: &Feed,
    cursor: &mut Cursor,
    hub: &Hub,
    alerting: Option<&Alerting>,
) -> Result<usize, StorageError> {
    let mut delivered = 0;
    let lost = cursor.lost();
    for _ in 0..MAX_PAGES_PER_POLL {
        let rows = feed.page(cursor.high(), &cursor.gaps(), PAGE_ROWS).await?;
        let full = rows.len() as i64 >= PAGE_ROWS;
        let now = Instant::now();
        let fresh: Vec<_> = rows
            .into_iter()
            .filter(|r| cursor.accept(r.id, now))
            .collect();
        delivered += fresh.len();
        hub.publish(&fresh);
        if let Some(a) = alerting {
            a.observe(&fresh);
        }
        if !full {
            break;
        }
    }
    cursor.settle(Instant::now());
    if cursor.lost() > lost {
        // A row among them may still commit (with any collected_at up to the future
        // skew ingest accepts): memory no longer holds every row before that.
        hub.lost_rows(OffsetDateTime::now_utc() + MAX_FUTURE_SKEW);
    }
    Ok(delivered)
}

/// Runs until `shutdown`: loads the starting state (retrying while the database does not
/// answer), then polls every `interval`.
pub async fn run(
    feed: Feed,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    alerting: Option<Arc<Alerting>>,
    interval: Duration,
    shutdown: Shutdown,
) {
    let mut cursor = loop {
        let forget_before = hub.settings().forget_before(OffsetDateTime::now_utc());
        match load(&feed, forget_before, alerting.as_deref()).await {
            Ok(start) => {
                tracing::info!(
                    start_id = start.cursor.high(),
                    points = start.history.len(),
                    hosts = start.fleet.len(),
                    "History loaded"
                );
                hub.load(start.history, start.fleet, start.routes);
                tokio::spawn(check_loaded(
                    feed.clone(),
                    Arc::clone(&hub),
                    start.to_check,
                    start.cursor.grace(),
                    shutdown.clone(),
                ));
                break start.cursor;
            }
            Err(error) => {
                metrics.poll_errors.inc();
                tracing::warn!(%error, "Cannot load the starting state; retrying");
                tokio::select! {
                    _ = shutdown.wait() => return,
                    _ = tokio::time::sleep(interval.max(Duration::from_millis(500))) => {}
                }
            }
        }
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tick.tick() => {}
        }
        let start = Instant::now();
        match poll_once(&feed, &mut cursor, &hub, alerting.as_deref()).await {
            Ok(n) => {
                metrics.poll_seconds.observe(start.elapsed().as_secs_f64());
                if n > 0 {
                    tracing::debug!(rows = n, high = cursor.high(), "Published rows");
                }
            }
            Err(error) => {
                metrics.poll_errors.inc();
                tracing::warn!(%error, "Poll failed; retrying at the next tick");
            }
        }
        let now = OffsetDateTime::now_utc();
        let gone = hub.evict(now);
        if let Some(a) = alerting.as_deref() {
            a.after_poll(&hub, &gone, now);
        }
        if !gone.is_empty() {
            tracing::info!(hosts = gone.len(), first = %gone[0], "Forgot hosts not seen for --host-ttl");
        }
    }
}
