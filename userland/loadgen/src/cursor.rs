//! The shared cursor of a replay: hands every record to exactly one user at a time, takes
//! back the ones whose send failed (to be retried, possibly by another user), and knows
//! when every record is finished.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// One unit of work: which record, which `--loop` pass, how many attempts so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// Index into the record list.
    pub index: usize,
    /// 0 for the first pass; `--loop` passes count up from there.
    pub pass: u64,
    /// Failed attempts so far (503s, connection errors, 5xx).
    pub attempts: u32,
    /// Not to be sent again before this instant (a `Retry-After`).
    pub not_before: Option<Instant>,
}

/// A cursor over `len` records shared by all users.
#[derive(Debug)]
pub struct Cursor {
    len: usize,
    looping: bool,
    next: AtomicU64,
    retry: Mutex<VecDeque<Ticket>>,
    finished: AtomicUsize,
}

impl Cursor {
    /// A cursor over `len` records; with `looping` it wraps around forever.
    pub fn new(len: usize, looping: bool) -> Self {
        Cursor {
            len,
            looping,
            next: AtomicU64::new(0),
            retry: Mutex::new(VecDeque::new()),
            finished: AtomicUsize::new(0),
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no records at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The next piece of work: a ticket given back earlier whose `not_before` has
    /// passed, else the next fresh record. `None` when nothing is due and every record
    /// has been handed out (never with `looping`).
    pub fn take(&self) -> Option<Ticket> {
        self.take_at(Instant::now())
    }

    /// [`Cursor::take`] at a given instant.
    pub fn take_at(&self, now: Instant) -> Option<Ticket> {
        {
            let mut retry = self.lock_retry();
            let due = retry
                .iter()
                .position(|t| t.not_before.is_none_or(|nb| nb <= now));
            if let Some(t) = due.and_then(|i| retry.remove(i)) {
                return Some(t);
            }
        }
        if self.len == 0 {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let len = self.len as u64;
        if !self.looping && n >= len {
            // Keep the counter from creeping towards overflow on a long idle tail.
            self.next.store(len, Ordering::Relaxed);
            return None;
        }
        Some(Ticket {
            index: (n % len) as usize,
            pass: n / len,
            attempts: 0,
            not_before: None,
        })
    }

    /// Returns a ticket whose send failed, to be handed out again.
    pub fn give_back(&self, ticket: Ticket) {
        self.lock_retry().push_back(ticket);
    }

    /// Marks one ticket finished (acknowledged, or given up); returns how many are.
    pub fn finish(&self) -> usize {
        self.finished.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// How many tickets are finished.
    pub fn finished(&self) -> usize {
        self.finished.load(Ordering::Acquire)
    }

    /// Whether every record is finished (never with `looping`).
    pub fn all_finished(&self) -> bool {
        !self.looping && self.finished() >= self.len
    }

    fn lock_retry(&self) -> std::sync::MutexGuard<'_, VecDeque<Ticket>> {
        // A panic while holding this lock cannot leave the queue inconsistent.
        self.retry.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn every_record_once_then_none() {
        let c = Cursor::new(3, false);
        let got: Vec<_> = std::iter::from_fn(|| c.take()).map(|t| t.index).collect();
        assert_eq!(got, vec![0, 1, 2]);
        assert_eq!(c.take(), None);
        assert!(!c.all_finished());
        for _ in 0..3 {
            c.finish();
        }
        assert!(c.all_finished());
    }

    #[test]
    fn given_back_tickets_come_first_and_keep_attempts() {
        let c = Cursor::new(2, false);
        let mut t = c.take().unwrap();
        t.attempts += 1;
        c.give_back(t);
        assert_eq!(c.take(), Some(t));
        assert_eq!(c.take().unwrap().index, 1);
        c.give_back(t);
        assert_eq!(c.take(), Some(t));
        assert_eq!(c.take(), None);
    }

    #[test]
    fn deferred_tickets_wait_for_their_time() {
        let c = Cursor::new(2, false);
        let now = Instant::now();
        let t = c.take_at(now).unwrap();
        let later = now + std::time::Duration::from_secs(2);
        c.give_back(Ticket {
            attempts: 1,
            not_before: Some(later),
            ..t
        });
        // Not due yet: the fresh record comes first, then nothing.
        assert_eq!(c.take_at(now).unwrap().index, 1);
        assert_eq!(c.take_at(now), None);
        let again = c.take_at(later).unwrap();
        assert_eq!((again.index, again.attempts), (0, 1));
    }

    #[test]
    fn looping_wraps_with_pass_numbers() {
        let c = Cursor::new(2, true);
        let got: Vec<_> = (0..5)
            .map(|_| c.take().unwrap())
            .map(|t| (t.index, t.pass))
            .collect();
        assert_eq!(got, vec![(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)]);
        c.finish();
        c.finish();
        assert!(!c.all_finished());
    }

    #[test]
    fn empty_cursor_hands_out_nothing() {
        let c = Cursor::new(0, true);
        assert!(c.is_empty());
        assert_eq!(c.take(), None);
    }

    #[test]
    fn concurrent_takers_share_without_doubles() {
        let c = Arc::new(Cursor::new(10_000, false));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    while let Some(t) = c.take() {
                        // Every 7th send "fails" once and is given back.
                        if t.index % 7 == 0 && t.attempts == 0 {
                            c.give_back(Ticket { attempts: 1, ..t });
                            continue;
                        }
                        mine.push(t.index);
                        c.finish();
                    }
                    mine
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.join().unwrap());
        }
        // A ticket given back after every other taker saw `None` is picked up by the
        // thread that gave it back (it loops again), so nothing is lost.
        let unique: HashSet<_> = all.iter().copied().collect();
        assert_eq!(all.len(), 10_000);
        assert_eq!(unique.len(), 10_000);
        assert!(c.all_finished());
    }
}
