//! Module readings shared within one millisecond.
//!
//! A snapshot's `collected_at` has millisecond precision, so two snapshots taken in the
//! same millisecond cannot tell their readings apart: under load (tens of requests a
//! millisecond) each request reading and parsing the module files again bought nothing
//! but CPU — more than the HTTP exchange itself (BENCHMARKS.md "agent"). Requests in the
//! same millisecond take the first one's readings (each still gets its own sample id);
//! a request in a new millisecond reads afresh, so at low rates nothing changes. Only
//! successful readings are kept: a failed read is tried again by the next request.

use std::sync::Mutex;

use time::OffsetDateTime;

/// The newest reading and the millisecond it was taken in.
#[derive(Debug)]
pub struct SameMillisecond<T> {
    newest: Mutex<Option<(OffsetDateTime, T)>>,
}

impl<T> Default for SameMillisecond<T> {
    fn default() -> Self {
        SameMillisecond {
            newest: Mutex::new(None),
        }
    }
}

impl<T: Clone> SameMillisecond<T> {
    /// The reading of millisecond `at` (a value of whole milliseconds): the one already
    /// taken in it, else `read()`'s, kept for the rest of that millisecond.
    pub fn get<E>(&self, at: OffsetDateTime, read: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        if let Some((when, value)) = &*self.lock() {
            if *when == at {
                return Ok(value.clone());
            }
        }
        let value = read()?;
        *self.lock() = Some((at, value.clone()));
        Ok(value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(OffsetDateTime, T)>> {
        // A panic while holding the lock leaves a whole value or none: still usable.
        self.newest.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use time::macros::datetime;

    #[test]
    fn one_read_per_millisecond_and_failures_are_not_kept() {
        let cache = SameMillisecond::<u32>::default();
        let reads = Cell::new(0);
        let read = |v: u32| {
            reads.set(reads.get() + 1);
            Ok::<_, ()>(v)
        };
        let ms1 = datetime!(2026-12-01 06:00:00.001 UTC);
        let ms2 = datetime!(2026-12-01 06:00:00.002 UTC);
        assert_eq!(cache.get(ms1, || read(1)), Ok(1));
        assert_eq!(
            cache.get(ms1, || read(9)),
            Ok(1),
            "same millisecond: shared"
        );
        assert_eq!(reads.get(), 1);
        assert_eq!(cache.get(ms2, || Err::<u32, _>("gone")), Err("gone"));
        assert_eq!(cache.get(ms2, || read(2)), Ok(2), "a failure is read again");
        assert_eq!(
            cache.get(ms1, || read(3)),
            Ok(3),
            "an older millisecond reads afresh"
        );
        assert_eq!(reads.get(), 3);
    }
}
