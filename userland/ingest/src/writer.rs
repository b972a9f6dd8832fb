//! The two write modes. Either way a caller gets its answer only after the transaction
//! holding its rows has committed, and the transaction runs in a task of its own, so a
//! client that disconnects never leaves a transaction open on a pooled connection.
//!
//! - [`WriteMode::Direct`]: each request spawns one transaction.
//! - [`WriteMode::Batched`]: group commit. Requests queue for writer tasks; one writer at
//!   a time gathers: it takes the oldest request and everything already queued, and
//!   commits at once if no other commit is in flight (an idle service adds no delay).
//!   While another writer's commit is in flight it keeps gathering until that commit
//!   ends, `batch_max_rows` rows are queued, or the oldest request has waited
//!   `batch_max_wait`, so a batch is what arrived during one commit. The batch is
//!   written in one transaction (multi-row inserts) and each request is answered with
//!   its own accepted/duplicate counts.
//!
//! Blast radius: when a group commit fails for any reason but "no connection" (see
//! [`write_batch`]), nothing of it was stored and each of its requests is written again
//! in a transaction of its own, so one request the database refuses fails alone and
//! the others are stored and answered as if they had never shared a batch. Each request
//! gets its own error, so the handler can tell a refusal (permanent) from an outage.

use crate::config::{Config, WriteMode};
use crate::metrics::IngestMetrics;
use procpulse_storage::row::to_db_time;
use procpulse_storage::write::insert_shared;
use procpulse_storage::{Backend, Database, NewSample, StorageError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Requests that may wait for a batched writer. Beyond this, callers wait to enqueue
/// (backpressure): ~10 full-size batches, bounded memory even with 1 MiB bodies queued.
pub const QUEUE_CAPACITY: usize = 4096;

/// What a request's rows became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Rows stored.
    pub accepted: usize,
    /// Rows whose sample_id was already stored (or repeated in the request).
    pub duplicates: usize,
}

/// Why a write failed: nothing of the request was stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The database failed or could not be reached.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The writer is gone (service shutting down) or its task panicked.
    #[error("writer stopped: {0}")]
    Stopped(String),
}

struct Job {
    rows: Vec<NewSample>,
    queued_at: Instant,
    reply: oneshot::Sender<Result<Outcome, WriteError>>,
}

/// The write path of one ingest process.
#[derive(Debug)]
pub struct Writer {
    db: Database,
    metrics: Arc<IngestMetrics>,
    queue: Option<mpsc::Sender<Job>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({} rows)", self.rows.len())
    }
}

impl Writer {
    /// Starts the writer for `config.write_mode` (batched mode spawns its writer tasks).
    pub fn start(db: Database, config: &Config, metrics: Arc<IngestMetrics>) -> Writer {
        match config.write_mode {
            WriteMode::Direct => Writer {
                db,
                metrics,
                queue: None,
                tasks: Vec::new(),
            },
            WriteMode::Batched => {
                let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
                let rx = Arc::new(Mutex::new(rx));
                let writers = match (config.batch_writers, db.backend()) {
                    (0, Backend::Sqlite) => 1,
                    (0, Backend::Mysql) => 2,
                    (n, _) => n,
                };
                let commits = Arc::new(InFlight::default());
                let tasks = (0..writers)
                    .map(|_| {
                        tokio::spawn(batch_loop(
                            db.clone(),
                            Arc::clone(&rx),
                            Arc::clone(&commits),
                            Arc::clone(&metrics),
                            config.batch_max_wait,
                            config.batch_max_rows.max(1),
                        ))
                    })
                    .collect();
                Writer {
                    db,
                    metrics,
                    queue: Some(tx),
                    tasks,
                }
            }
        }
    }

    /// Stores `rows` (one request's snapshots); returns after their commit.
    pub async fn write(&self, rows: Vec<NewSample>) -> Result<Outcome, WriteError> {
        match &self.queue {
            None => {
                let db = self.db.clone();
                let metrics = Arc::clone(&self.metrics);
                let task = tokio::spawn(async move {
                    let mut rows = rows;
                    stamp(&mut rows);
                    commit(&db, Arc::new(rows), &metrics).await
                });
                let (stored, _) = task
                    .await
                    .map_err(|e| WriteError::Stopped(e.to_string()))??;
                Ok(outcome(&stored))
            }
            Some(queue) => {
                let (reply, answer) = oneshot::channel();
                let job = Job {
                    rows,
                    queued_at: Instant::now(),
                    reply,
                };
                queue
                    .send(job)
                    .await
                    .map_err(|_| WriteError::Stopped("queue closed".into()))?;
                answer
                    .await
                    .map_err(|_| WriteError::Stopped("writer dropped the request".into()))?
            }
        }
    }

    /// Stops accepting work, lets the writers finish what is queued, and waits for them.
    pub async fn close(mut self) {
        self.queue = None;
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

/// One transaction with metrics; returns per-row stored flags.
async fn commit(
    db: &Database,
    rows: Arc<Vec<NewSample>>,
    metrics: &IngestMetrics,
) -> Result<(Vec<bool>, Duration), StorageError> {
    let n = rows.len();
    let start = std::time::Instant::now();
    match insert_shared(db, rows).await {
        Ok(report) => {
            let took = start.elapsed();
            metrics.commit(n, report.accepted(), took, report.pool_wait);
            Ok((report.stored, took))
        }
        Err(e) => {
            metrics.write_error();
            tracing::warn!(rows = n, error = %e, "Write failed");
            Err(e)
        }
    }
}

/// Batched writers' commits in flight, and a wake-up when one ends.
#[derive(Debug, Default)]
struct InFlight {
    count: AtomicUsize,
    ended: Notify,
}

/// Counts one commit as in flight until dropped (also on cancellation or panic).
struct CommitGuard<'a>(&'a InFlight);

impl<'a> CommitGuard<'a> {
    fn new(commits: &'a InFlight) -> Self {
        commits.count.fetch_add(1, Ordering::SeqCst);
        CommitGuard(commits)
    }
}

impl Drop for CommitGuard<'_> {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::SeqCst);
        self.0.ended.notify_waiters();
    }
}

async fn batch_loop(
    db: Database,
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    commits: Arc<InFlight>,
    metrics: Arc<IngestMetrics>,
    max_wait: Duration,
    max_rows: usize,
) {
    loop {
        let (jobs, guard) = {
            // One writer gathers at a time; the others are committing or waiting here.
            let mut rx = queue.lock().await;
            let Some(first) = rx.recv().await else { break };
            let jobs = gather(&mut rx, first, &commits, max_wait, max_rows).await;
            // Counted before the queue is released, so the next gatherer waits for it.
            (jobs, CommitGuard::new(&commits))
        };
        write_batch(&db, jobs, &metrics).await;
        drop(guard);
    }
}

/// Collects the batch that starts with `first` (see the module docs for when it ends).
async fn gather(
    rx: &mut mpsc::Receiver<Job>,
    first: Job,
    commits: &InFlight,
    max_wait: Duration,
    max_rows: usize,
) -> Vec<Job> {
    let deadline = first.queued_at + max_wait;
    let mut rows = first.rows.len();
    let mut jobs = vec![first];
    while rows < max_rows {
        let job = match rx.try_recv() {
            Ok(job) => job,
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                // Registered before the count is read, so an ending commit is not missed.
                let ended = commits.ended.notified();
                tokio::pin!(ended);
                ended.as_mut().enable();
                if commits.count.load(Ordering::SeqCst) == 0 {
                    break;
                }
                tokio::select! {
                    job = rx.recv() => match job {
                        Some(job) => job,
                        None => break,
                    },
                    () = &mut ended => continue,
                    () = tokio::time::sleep_until(deadline) => break,
                }
            }
        };
        rows += job.rows.len();
        jobs.push(job);
    }
    jobs
}

/// Commits `jobs` as one transaction; on failure retries each job alone (see the module
/// docs), unless the failure was not getting a connection at all
/// ([`StorageError::Unavailable`]): then every job gets that answer at once, rather than
/// each waiting for its own pool timeout in turn.
async fn write_batch(db: &Database, jobs: Vec<Job>, metrics: &IngestMetrics) {
    let mut sizes = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    let mut rows = Vec::with_capacity(jobs.iter().map(|j| j.rows.len()).sum());
    for job in jobs {
        sizes.push(job.rows.len());
        replies.push(job.reply);
        rows.extend(job.rows);
    }
    stamp(&mut rows);
    let rows = Arc::new(rows);
    let err = match commit(db, Arc::clone(&rows), metrics).await {
        Ok((stored, _)) => {
            let mut at = 0;
            for (size, reply) in sizes.into_iter().zip(replies) {
                let _ = reply.send(Ok(outcome(&stored[at..at + size])));
                at += size;
            }
            return;
        }
        Err(e) => e,
    };
    if replies.len() == 1 {
        let _ = replies.pop().map(|r| r.send(Err(WriteError::Storage(err))));
        return;
    }
    if let StorageError::Unavailable(msg) = &err {
        for reply in replies {
            let _ = reply.send(Err(WriteError::Storage(StorageError::Unavailable(
                msg.clone(),
            ))));
        }
        return;
    }
    tracing::info!(
        requests = replies.len(),
        error = %err,
        "Group commit failed; writing its requests one by one"
    );
    // The storage call has returned, so this is the only handle left.
    let mut rows = Arc::try_unwrap(rows).unwrap_or_else(|shared| (*shared).clone());
    let mut parts = Vec::with_capacity(sizes.len());
    for size in sizes.iter().rev() {
        parts.push(rows.split_off(rows.len() - size));
    }
    parts.reverse();
    let mut outage: Option<String> = None;
    for (part, reply) in parts.into_iter().zip(replies) {
        let answer = match &outage {
            Some(msg) => Err(StorageError::Unavailable(msg.clone())),
            None => {
                let mut part = part;
                stamp(&mut part);
                commit(db, Arc::new(part), metrics)
                    .await
                    .map(|(stored, _)| outcome(&stored))
            }
        };
        if let Err(StorageError::Unavailable(msg)) = &answer {
            outage.get_or_insert_with(|| msg.clone());
        }
        let _ = reply.send(answer.map_err(WriteError::Storage));
    }
}

/// Stamps `received_at` on `rows` just before their INSERT (not when the request
/// arrived): a request may wait in the queue or for a connection, and the maintainer
/// folds rows whose `received_at` is a settle delay (30 s) behind the database's clock
/// — a row stamped earlier than it commits by more than that would never be folded.
fn stamp(rows: &mut [NewSample]) {
    let now = to_db_time(OffsetDateTime::now_utc());
    for r in rows {
        r.received_at = now;
    }
}

fn outcome(stored: &[bool]) -> Outcome {
    let accepted = stored.iter().filter(|s| **s).count();
    Outcome {
        accepted,
        duplicates: stored.len() - accepted,
    }
}
