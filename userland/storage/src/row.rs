//! Row types of the `samples` table and their conversion to and from the snapshot.

use crate::compact;
use crate::schema::samples;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::mysql::{Mysql, MysqlValue};
use diesel::prelude::*;
use diesel::sql_types::Timestamp;
use diesel::sqlite::{Sqlite, SqliteValue};
use procpulse_model::{Cpu, Procs, Ram, Snapshot, Source, TopProcess};
use time::macros::datetime;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The earliest stored timestamp a read renders (validation's lower bound for
/// `collected_at`, naive UTC as stored).
pub const MIN_READABLE_TIME: PrimitiveDateTime = datetime!(1970-01-01 00:00:00);
/// The latest stored timestamp a read renders (RFC 3339 has four-digit years).
pub const MAX_READABLE_TIME: PrimitiveDateTime = datetime!(9999-12-31 23:59:59.999);

/// A timestamp column read so that a value the driver cannot decode (SQLite text that is
/// no date, a MySQL zero date) does not fail the whole query: it reads as
/// `PrimitiveDateTime::MIN`, outside [`MIN_READABLE_TIME`]..=[`MAX_READABLE_TIME`], and
/// [`SampleRow::to_snapshot`] then refuses that row alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
pub struct LenientTime(pub PrimitiveDateTime);

impl LenientTime {
    fn or_min(r: deserialize::Result<PrimitiveDateTime>) -> Self {
        LenientTime(r.unwrap_or(PrimitiveDateTime::MIN))
    }
}

impl From<LenientTime> for PrimitiveDateTime {
    fn from(t: LenientTime) -> Self {
        t.0
    }
}

impl FromSql<Timestamp, Sqlite> for LenientTime {
    fn from_sql(v: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(Self::or_min(<PrimitiveDateTime as FromSql<
            Timestamp,
            Sqlite,
        >>::from_sql(v)))
    }
}

impl FromSql<Timestamp, Mysql> for LenientTime {
    fn from_sql(v: MysqlValue<'_>) -> deserialize::Result<Self> {
        Ok(Self::or_min(<PrimitiveDateTime as FromSql<
            Timestamp,
            Mysql,
        >>::from_sql(v)))
    }
}

/// Whether a stored timestamp is one a read can render (RFC 3339) and validation could
/// have accepted.
pub fn readable_time(t: PrimitiveDateTime) -> bool {
    (MIN_READABLE_TIME..=MAX_READABLE_TIME).contains(&t)
}

/// One stored row, as read back (every column, in table order).
///
/// Select it with `SampleRow::as_select()`; it compiles for both backends.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = samples)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::mysql::Mysql))]
pub struct SampleRow {
    /// Surrogate key.
    pub id: i64,
    /// Idempotency key.
    pub sample_id: String,
    /// Host name.
    pub host: String,
    /// `kmod` or `procfs`.
    pub source: String,
    /// Ingest route that stored it.
    pub route: String,
    /// When the sample was taken (UTC); `PrimitiveDateTime::MIN` when the stored value
    /// does not decode ([`LenientTime`]).
    #[diesel(deserialize_as = LenientTime)]
    pub collected_at: PrimitiveDateTime,
    /// When ingest stored it (UTC, ingest's clock just before the INSERT; the fold's
    /// settle delay relies on that); `PrimitiveDateTime::MIN` when the stored value does
    /// not decode ([`LenientTime`]).
    #[diesel(deserialize_as = LenientTime)]
    pub received_at: PrimitiveDateTime,
    /// Percent 0–100.
    pub cpu_usage_percent: f64,
    /// Online CPUs.
    pub cpu_cores: i32,
    /// 1-minute load average.
    pub load1: f64,
    /// 5-minute load average.
    pub load5: f64,
    /// 15-minute load average.
    pub load15: f64,
    /// KiB.
    pub ram_total_kb: i64,
    /// KiB.
    pub ram_free_kb: i64,
    /// KiB.
    pub ram_available_kb: i64,
    /// KiB.
    pub ram_used_kb: i64,
    /// KiB.
    pub ram_cached_kb: i64,
    /// KiB.
    pub ram_swap_total_kb: i64,
    /// KiB.
    pub ram_swap_free_kb: i64,
    /// Percent 0–100.
    pub ram_used_percent: f64,
    /// Processes.
    pub procs_total: i64,
    /// R.
    pub procs_running: i64,
    /// S.
    pub procs_sleeping: i64,
    /// D.
    pub procs_disk_sleep: i64,
    /// T.
    pub procs_stopped: i64,
    /// t.
    pub procs_traced: i64,
    /// Z.
    pub procs_zombie: i64,
    /// X.
    pub procs_dead: i64,
    /// I.
    pub procs_idle: i64,
    /// Threads.
    pub procs_threads: i64,
    /// `top` as JSON text, if any.
    pub top_json: Option<String>,
    /// Buffers, KiB (v2).
    pub ram_buffers_kb: Option<i64>,
    /// Shmem, KiB (v2).
    pub ram_shared_kb: Option<i64>,
    /// SwapTotal − SwapFree, KiB (v2).
    pub ram_swap_used_kb: Option<i64>,
    /// `cpu.modes` in the compact text of [`crate::compact`] (v2).
    pub cpu_modes: Option<String>,
    /// `cpu.per_cpu` in the compact text of [`crate::compact`] (v2).
    pub cpu_per_cpu: Option<String>,
    /// `pressure` in the compact text of [`crate::compact`] (v2).
    pub pressure: Option<String>,
}

/// A row to insert (everything but `id`). Build it with [`NewSample::from_snapshot`].
///
/// `None` is written as NULL rather than DEFAULT so that SQLite can insert a whole batch
/// in one multi-row statement.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = samples)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewSample {
    /// Idempotency key.
    pub sample_id: String,
    /// Host name.
    pub host: String,
    /// `kmod` or `procfs`.
    pub source: String,
    /// Ingest route.
    pub route: String,
    /// UTC, millisecond precision.
    pub collected_at: PrimitiveDateTime,
    /// UTC, millisecond precision.
    pub received_at: PrimitiveDateTime,
    /// Percent.
    pub cpu_usage_percent: f64,
    /// Online CPUs.
    pub cpu_cores: i32,
    /// Load average.
    pub load1: f64,
    /// Load average.
    pub load5: f64,
    /// Load average.
    pub load15: f64,
    /// KiB.
    pub ram_total_kb: i64,
    /// KiB.
    pub ram_free_kb: i64,
    /// KiB.
    pub ram_available_kb: i64,
    /// KiB.
    pub ram_used_kb: i64,
    /// KiB.
    pub ram_cached_kb: i64,
    /// KiB.
    pub ram_swap_total_kb: i64,
    /// KiB.
    pub ram_swap_free_kb: i64,
    /// Percent.
    pub ram_used_percent: f64,
    /// Count.
    pub procs_total: i64,
    /// Count.
    pub procs_running: i64,
    /// Count.
    pub procs_sleeping: i64,
    /// Count.
    pub procs_disk_sleep: i64,
    /// Count.
    pub procs_stopped: i64,
    /// Count.
    pub procs_traced: i64,
    /// Count.
    pub procs_zombie: i64,
    /// Count.
    pub procs_dead: i64,
    /// Count.
    pub procs_idle: i64,
    /// Count.
    pub procs_threads: i64,
    /// JSON text of `top`, NULL when empty.
    pub top_json: Option<String>,
    /// KiB, NULL when absent (v2).
    pub ram_buffers_kb: Option<i64>,
    /// KiB, NULL when absent (v2).
    pub ram_shared_kb: Option<i64>,
    /// KiB, NULL when absent (v2).
    pub ram_swap_used_kb: Option<i64>,
    /// Compact text of `cpu.modes`, NULL when absent (v2).
    pub cpu_modes: Option<String>,
    /// Compact text of `cpu.per_cpu`, NULL when empty (v2).
    pub cpu_per_cpu: Option<String>,
    /// Compact text of `pressure`, NULL when absent (v2).
    pub pressure: Option<String>,
}

/// Number of columns a [`NewSample`] binds (one placeholder each in an INSERT).
pub const NEW_SAMPLE_COLUMNS: usize = 36;

/// Converts an instant to the naive UTC value stored in the table, truncated to
/// milliseconds (both backends then store exactly the same value).
pub fn to_db_time(t: OffsetDateTime) -> PrimitiveDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    let millis = t.nanosecond() / 1_000_000 * 1_000_000;
    let t = t.replace_nanosecond(millis).unwrap_or(t);
    PrimitiveDateTime::new(t.date(), t.time())
}

/// Converts a stored timestamp back to an instant (the table holds UTC).
pub fn from_db_time(t: PrimitiveDateTime) -> OffsetDateTime {
    t.assume_utc()
}

fn db_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored count back to the model's type; a negative one (never written by this crate)
/// is an error naming the column.
fn model_int(column: &'static str, v: i64) -> Result<u64, String> {
    u64::try_from(v).map_err(|_| format!("{column} is negative ({v})"))
}

impl NewSample {
    /// The row for a validated snapshot stored by `route`, received at `received_at`.
    pub fn from_snapshot(s: &Snapshot, route: &str, received_at: OffsetDateTime) -> Self {
        let top_json = if s.top.is_empty() {
            None
        } else {
            // Serializing plain structs of numbers and strings cannot fail.
            serde_json::to_string(&s.top).ok()
        };
        NewSample {
            sample_id: s.sample_id.clone(),
            host: s.host.clone(),
            source: s.source.as_str().to_owned(),
            route: route.to_owned(),
            collected_at: to_db_time(s.collected_at),
            received_at: to_db_time(received_at),
            cpu_usage_percent: s.cpu.usage_percent,
            cpu_cores: i32::try_from(s.cpu.cores).unwrap_or(i32::MAX),
            load1: s.cpu.load1,
            load5: s.cpu.load5,
            load15: s.cpu.load15,
            ram_total_kb: db_int(s.ram.total_kb),
            ram_free_kb: db_int(s.ram.free_kb),
            ram_available_kb: db_int(s.ram.available_kb),
            ram_used_kb: db_int(s.ram.used_kb),
            ram_cached_kb: db_int(s.ram.cached_kb),
            ram_swap_total_kb: db_int(s.ram.swap_total_kb),
            ram_swap_free_kb: db_int(s.ram.swap_free_kb),
            ram_used_percent: s.ram.used_percent,
            procs_total: db_int(s.procs.total),
            procs_running: db_int(s.procs.running),
            procs_sleeping: db_int(s.procs.sleeping),
            procs_disk_sleep: db_int(s.procs.disk_sleep),
            procs_stopped: db_int(s.procs.stopped),
            procs_traced: db_int(s.procs.traced),
            procs_zombie: db_int(s.procs.zombie),
            procs_dead: db_int(s.procs.dead),
            procs_idle: db_int(s.procs.idle),
            procs_threads: db_int(s.procs.threads),
            top_json,
            ram_buffers_kb: s.ram.buffers_kb.map(db_int),
            ram_shared_kb: s.ram.shared_kb.map(db_int),
            ram_swap_used_kb: s.ram.swap_used_kb.map(db_int),
            cpu_modes: s.cpu.modes.as_ref().map(compact::encode_modes),
            cpu_per_cpu: (!s.cpu.per_cpu.is_empty())
                .then(|| compact::encode_per_cpu(&s.cpu.per_cpu)),
            pressure: s.pressure.as_ref().map(compact::encode_pressure),
        }
    }
}

/// Decodes one compact v2 column; damaged text (never written by this crate) drops the
/// field with a warning rather than the whole row.
fn decode_v2<T>(
    row_id: i64,
    text: Option<&str>,
    decode: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    match decode(text?) {
        Ok(v) => Some(v),
        Err(error) => {
            tracing::warn!(id = row_id, %error, "Ignoring an unreadable snapshot v2 column");
            None
        }
    }
}

impl SampleRow {
    /// The snapshot this row stores (`top` is empty if `top_json` is NULL or unreadable,
    /// with a warning). A NULL v2 column gives the absent field, so a v1 row is the v1
    /// snapshot again (it serializes with no v2 key); an unreadable one is dropped the
    /// same way, with a warning.
    ///
    /// Fails on a row no validated snapshot could have made — an unknown `source`, a
    /// timestamp outside [`MIN_READABLE_TIME`]..=[`MAX_READABLE_TIME`] or undecodable, a
    /// negative count, `cpu_cores` < 1 — so that no read renders (or fails to render) it:
    /// readers skip such a row with a warning naming its id.
    pub fn to_snapshot(&self) -> Result<Snapshot, String> {
        for (column, t) in [
            ("collected_at", self.collected_at),
            ("received_at", self.received_at),
        ] {
            if !readable_time(t) {
                return Err(format!(
                    "{column} {t} is outside {MIN_READABLE_TIME}..={MAX_READABLE_TIME} or unreadable"
                ));
            }
        }
        let cores = u32::try_from(self.cpu_cores)
            .ok()
            .filter(|c| *c >= 1)
            .ok_or_else(|| format!("cpu_cores {} is below 1", self.cpu_cores))?;
        let top: Vec<TopProcess> = match self.top_json.as_deref() {
            None => Vec::new(),
            Some(text) => serde_json::from_str(text).unwrap_or_else(|error| {
                tracing::warn!(id = self.id, %error, "Ignoring an unreadable top_json column");
                Vec::new()
            }),
        };
        let opt = |column, v: Option<i64>| v.map(|v| model_int(column, v)).transpose();
        Ok(Snapshot {
            sample_id: self.sample_id.clone(),
            host: self.host.clone(),
            collected_at: from_db_time(self.collected_at),
            source: self.source.parse::<Source>()?,
            cpu: Cpu {
                usage_percent: self.cpu_usage_percent,
                cores,
                load1: self.load1,
                load5: self.load5,
                load15: self.load15,
                modes: decode_v2(self.id, self.cpu_modes.as_deref(), compact::decode_modes),
                per_cpu: decode_v2(
                    self.id,
                    self.cpu_per_cpu.as_deref(),
                    compact::decode_per_cpu,
                )
                .unwrap_or_default(),
            },
            ram: Ram {
                total_kb: model_int("ram_total_kb", self.ram_total_kb)?,
                free_kb: model_int("ram_free_kb", self.ram_free_kb)?,
                available_kb: model_int("ram_available_kb", self.ram_available_kb)?,
                used_kb: model_int("ram_used_kb", self.ram_used_kb)?,
                cached_kb: model_int("ram_cached_kb", self.ram_cached_kb)?,
                swap_total_kb: model_int("ram_swap_total_kb", self.ram_swap_total_kb)?,
                swap_free_kb: model_int("ram_swap_free_kb", self.ram_swap_free_kb)?,
                used_percent: self.ram_used_percent,
                buffers_kb: opt("ram_buffers_kb", self.ram_buffers_kb)?,
                shared_kb: opt("ram_shared_kb", self.ram_shared_kb)?,
                swap_used_kb: opt("ram_swap_used_kb", self.ram_swap_used_kb)?,
            },
            procs: Procs {
                total: model_int("procs_total", self.procs_total)?,
                running: model_int("procs_running", self.procs_running)?,
                sleeping: model_int("procs_sleeping", self.procs_sleeping)?,
                disk_sleep: model_int("procs_disk_sleep", self.procs_disk_sleep)?,
                stopped: model_int("procs_stopped", self.procs_stopped)?,
                traced: model_int("procs_traced", self.procs_traced)?,
                zombie: model_int("procs_zombie", self.procs_zombie)?,
                dead: model_int("procs_dead", self.procs_dead)?,
                idle: model_int("procs_idle", self.procs_idle)?,
                threads: model_int("procs_threads", self.procs_threads)?,
            },
            top,
            pressure: decode_v2(self.id, self.pressure.as_deref(), compact::decode_pressure),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn db_time_truncates_to_milliseconds_in_utc() {
        let t = datetime!(2026-11-23 11:00:00.123456789 +01:00);
        assert_eq!(to_db_time(t), datetime!(2026-11-23 10:00:00.123));
        assert_eq!(
            from_db_time(to_db_time(t)),
            datetime!(2026-11-23 10:00:00.123 UTC)
        );
    }
}
