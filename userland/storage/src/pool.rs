//! Connections and pools for both backends, behind one [`Database`] handle.
//!
//! - SQLite runs through diesel_async's [`SyncConnectionWrapper`] (each query on a blocking
//!   thread). Every connection is set up with WAL journaling, `synchronous=FULL` (a commit
//!   is on disk before it returns) and a busy timeout. Writes go through a separate pool of
//!   exactly one connection ([`Database::write_pool`]): SQLite has one writer at a time
//!   anyway, and queueing in the pool is cheaper than spinning on `SQLITE_BUSY`.
//! - MySQL/MariaDB uses [`AsyncMysqlConnection`] (mysql_async); reads and writes share one
//!   pool. Every connection sets, when it opens, what the write path relies on instead of
//!   trusting the server's defaults ([`MYSQL_SESSION_SQL`]): `autocommit=1` (the
//!   one-statement fast path of [`crate::write`] is its own transaction only then), a
//!   strict `sql_mode` (a value the column cannot hold is an error, never clamped or
//!   truncated) and `time_zone='+00:00'`. [`Database::durability_warning`] reports a
//!   server whose `innodb_flush_log_at_trx_commit` is not 1.
//!
//! Pools are deadpool pools from diesel_async. Connections are created lazily, so a
//! database that is down at start-up or restarts later is picked up again without
//! restarting the service. A MySQL connection checked out again within
//! [`MYSQL_VERIFY_IDLE_AFTER`] of its last use goes straight to work, one idle for longer
//! is pinged first, and one that failed is closed ([`discard`]), never pooled again. A ping on every checkout was a
//! whole extra round trip per transaction, a large share of a group commit under load.

use crate::error::StorageError;
use crate::url::{Backend, DatabaseUrl};
use deadpool::managed::{Hook, HookError};
use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool as DeadPool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolError, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An async SQLite connection.
pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;
/// An async MySQL/MariaDB connection.
pub type MysqlConn = AsyncMysqlConnection;
/// Pool of SQLite connections.
pub type SqlitePool = DeadPool<SqliteConn>;
/// Pool of MySQL/MariaDB connections.
pub type MysqlPool = DeadPool<MysqlConn>;

/// A pool of one backend or the other. Match on it (or use [`crate::with_conn!`]) to run
/// the same Diesel query against either.
#[derive(Clone)]
pub enum Pool {
    /// SQLite.
    Sqlite(SqlitePool),
    /// MySQL / MariaDB.
    Mysql(MysqlPool),
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (name, status) = match self {
            Pool::Sqlite(p) => ("Sqlite", p.status()),
            Pool::Mysql(p) => ("Mysql", p.status()),
        };
        write!(f, "Pool::{name}({status:?})")
    }
}

/// A checked-out connection of either backend.
pub enum PooledConn {
    /// SQLite.
    Sqlite(Object<SqliteConn>),
    /// MySQL / MariaDB.
    Mysql(Object<MysqlConn>),
}

impl std::fmt::Debug for PooledConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PooledConn::Sqlite(_) => f.write_str("PooledConn::Sqlite"),
            PooledConn::Mysql(_) => f.write_str("PooledConn::Mysql"),
        }
    }
}

impl Pool {
    /// Checks a connection out, waiting at most the pool's wait timeout. Any failure
    /// (database down, pool exhausted) is [`StorageError::Unavailable`].
    pub async fn get(&self) -> Result<PooledConn, StorageError> {
        match self {
            Pool::Sqlite(p) => p.get().await.map(PooledConn::Sqlite),
            Pool::Mysql(p) => p.get().await.map(PooledConn::Mysql),
        }
        .map_err(|e| StorageError::Unavailable(e.to_string()))
    }

    /// Connections currently open and idle, for gauges.
    pub fn status(&self) -> deadpool::Status {
        match self {
            Pool::Sqlite(p) => p.status(),
            Pool::Mysql(p) => p.status(),
        }
    }
}

/// Closes a MySQL connection instead of returning it to the pool: after any error on it.
/// Checkouts skip the ping for recently used connections ([`MYSQL_VERIFY_IDLE_AFTER`]),
/// so one that broke (server restart, network) must not go back, or it would fail every
/// request that gets it.
pub fn discard(conn: Object<MysqlConn>) {
    drop(Object::take(conn));
}

/// Runs `$body` with `$conn` bound to `&mut` a connection of whichever backend `$pool`
/// (a [`Pool`]) holds. The body is compiled once per backend, so one Diesel query
/// serves both; it runs inside an `async` block and must evaluate to
/// `Result<T, StorageError>` (`?` on Diesel results returns from that block).
/// Import `diesel_async::RunQueryDsl` where you use it.
///
/// ```ignore
/// let n: i64 = with_conn!(db.read_pool(), conn => {
///     Ok(samples::table.count().get_result(conn).await?)
/// })?;
/// ```
#[macro_export]
macro_rules! with_conn {
    ($pool:expr, $conn:ident => $body:expr) => {
        match $pool.get().await {
            Ok($crate::pool::PooledConn::Sqlite(mut __c)) => {
                let $conn: &mut $crate::pool::SqliteConn = &mut *__c;
                async { $body }.await
            }
            Ok($crate::pool::PooledConn::Mysql(mut __c)) => {
                let $conn: &mut $crate::pool::MysqlConn = &mut *__c;
                let __r = async { $body }.await;
                if __r.is_err() {
                    $crate::pool::discard(__c);
                }
                __r
            }
            Err(e) => Err(e),
        }
    };
}

/// Pool sizes and timeouts.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections of the (read) pool. MySQL writes share it.
    pub max_size: usize,
    /// Longest a caller waits for a free connection, and longest a new connection may
    /// take to open, before [`StorageError::Unavailable`].
    pub timeout: Duration,
    /// SQLite `busy_timeout`: how long a statement waits for another process's lock.
    pub sqlite_busy_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 16,
            timeout: Duration::from_secs(2),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Handle on one database: its URL, a read pool and a write pool (the same pool on
/// MySQL). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Database {
    /// Shared, so that cloning a `Database` (once per request) allocates nothing.
    url: Arc<DatabaseUrl>,
    read: Pool,
    write: Pool,
    /// SQLite's busy timeout, for the migrations' connection too.
    sqlite_busy_timeout: Duration,
    /// The rows written through this handle (and its clones), for the maintainer's fold
    /// (off unless a maintainer on this handle turns it on).
    tap: Arc<crate::fold_tap::FoldTap>,
}

impl Database {
    /// Builds the pools for `url`. Does not connect yet (connections open on first use)
    /// and does not migrate: call [`Database::migrate`] (or `connect`) for that.
    pub fn new(url: &DatabaseUrl, opts: &PoolOptions) -> Result<Database, StorageError> {
        let (read, write) = match url.backend() {
            Backend::Sqlite => {
                let read = sqlite_pool(url.target(), opts, opts.max_size)?;
                let write = sqlite_pool(url.target(), opts, 1)?;
                (Pool::Sqlite(read), Pool::Sqlite(write))
            }
            Backend::Mysql => {
                let pool = mysql_pool(url.target(), opts)?;
                (Pool::Mysql(pool.clone()), Pool::Mysql(pool))
            }
        };
        Ok(Database {
            url: Arc::new(url.clone()),
            read,
            write,
            sqlite_busy_timeout: opts.sqlite_busy_timeout,
            tap: Arc::default(),
        })
    }

    /// [`Database::new`] followed by [`Database::migrate`].
    pub async fn connect(url: &DatabaseUrl, opts: &PoolOptions) -> Result<Database, StorageError> {
        let db = Database::new(url, opts)?;
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the embedded migrations of this backend (idempotent).
    pub async fn migrate(&self) -> Result<(), StorageError> {
        crate::migrate::run(&self.url, self.sqlite_busy_timeout)
            .await
            .map(|_| ())
    }

    /// The URL (its `Display` hides the password).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    /// Pool for queries that only read.
    pub fn read_pool(&self) -> &Pool {
        &self.read
    }

    /// Pool for writes (one connection on SQLite; the read pool on MySQL).
    pub fn write_pool(&self) -> &Pool {
        &self.write
    }

    /// The fold tap of this handle and its clones ([`crate::fold_tap`]).
    pub fn fold_tap(&self) -> &crate::fold_tap::FoldTap {
        &self.tap
    }

    /// `Some(warning)` when the server does not make every acknowledged commit durable:
    /// on MySQL/MariaDB, `innodb_flush_log_at_trx_commit` other than 1 (0 or 2 lose up
    /// to about a second of acknowledged commits on a crash of the server or host).
    /// SQLite connections always run `synchronous=FULL`, so `None` there.
    pub async fn durability_warning(&self) -> Result<Option<String>, StorageError> {
        use diesel::sql_types::BigInt;
        use diesel_async::RunQueryDsl;
        let mut c = match self.read.get().await? {
            PooledConn::Sqlite(_) => return Ok(None),
            PooledConn::Mysql(c) => c,
        };
        let q = diesel::select(diesel::dsl::sql::<BigInt>(
            "CAST(@@GLOBAL.innodb_flush_log_at_trx_commit AS SIGNED)",
        ));
        let flush: i64 = match q.get_result(&mut *c).await {
            Ok(v) => v,
            Err(e) => {
                discard(c);
                return Err(e.into());
            }
        };
        Ok((flush != 1).then(|| {
            format!(
                "innodb_flush_log_at_trx_commit={flush}: the server acknowledges commits \
                 before they are on disk, so a crash can lose about a second of accepted \
                 samples (set it to 1)"
            )
        }))
    }

    /// Checks the database answers a trivial query; returns how long that took.
    pub async fn ping(&self) -> Result<Duration, StorageError> {
        let start = Instant::now();
        match self.read.get().await? {
            PooledConn::Sqlite(mut c) => c.batch_execute("SELECT 1").await?,
            PooledConn::Mysql(mut c) => {
                if let Err(e) = c.batch_execute("SELECT 1").await {
                    discard(c);
                    return Err(e.into());
                }
            }
        }
        Ok(start.elapsed())
    }
}

fn timeouts(opts: &PoolOptions) -> deadpool::managed::Timeouts {
    deadpool::managed::Timeouts {
        wait: Some(opts.timeout),
        create: Some(opts.timeout),
        recycle: Some(opts.timeout),
    }
}

fn build_error(e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(format!("cannot build connection pool: {e}"))
}

fn sqlite_pool(path: &str, opts: &PoolOptions, size: usize) -> Result<SqlitePool, StorageError> {
    let busy = opts.sqlite_busy_timeout;
    let mut config = ManagerConfig::<SqliteConn>::default();
    config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        Box::pin(async move {
            let mut conn = SqliteConn::establish(&url).await?;
            conn.spawn_blocking(move |c| {
                c.batch_execute(&crate::sqlite_setup::sqlite_setup_sql(busy))
            })
            .await
            .map_err(|e: diesel::result::Error| {
                diesel::ConnectionError::BadConnection(e.to_string())
            })?;
            Ok(conn)
        })
    });
    let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(path, config);
    DeadPool::builder(manager)
        .max_size(size)
        .runtime(deadpool::Runtime::Tokio1)
        .timeouts(timeouts(opts))
        .build()
        .map_err(build_error)
}

/// A pooled MySQL connection unused for longer than this is pinged before it is handed
/// out again (server restarts and `wait_timeout` kill idle connections).
pub const MYSQL_VERIFY_IDLE_AFTER: Duration = Duration::from_secs(2);

/// `sql_mode` of every pooled MySQL connection: strict for every table (an out-of-range
/// or too-long value is an error, not a warning with a clamped value), no zero dates,
/// errors on division by zero, no silent engine substitution. Valid on MariaDB ≥ 10.2
/// and MySQL 8.
pub const MYSQL_SQL_MODE: &str = "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION";

/// Session settings every pooled MySQL connection runs once when it opens (one statement,
/// one round trip).
pub static MYSQL_SESSION_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("SET SESSION autocommit = 1, sql_mode = '{MYSQL_SQL_MODE}', time_zone = '+00:00'")
});

fn mysql_pool(url: &str, opts: &PoolOptions) -> Result<MysqlPool, StorageError> {
    let mut config = ManagerConfig::<MysqlConn>::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(|url| {
        let url = url.to_owned();
        Box::pin(async move {
            let mut conn = MysqlConn::establish(&url).await?;
            conn.batch_execute(&MYSQL_SESSION_SQL)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    let manager = AsyncDieselConnectionManager::<MysqlConn>::new_with_config(url, config);
    DeadPool::builder(manager)
        .max_size(opts.max_size)
        .pre_recycle(Hook::async_fn(|conn: &mut MysqlConn, metrics| {
            Box::pin(async move {
                if metrics.last_used() > MYSQL_VERIFY_IDLE_AFTER {
                    conn.batch_execute("SELECT 1")
                        .await
                        .map_err(|e| HookError::Backend(PoolError::QueryError(e)))?;
                }
                Ok(())
            })
        }))
        .runtime(deadpool::Runtime::Tokio1)
        .timeouts(timeouts(opts))
        .build()
        .map_err(build_error)
}
