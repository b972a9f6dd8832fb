//! Test databases: a fresh SQLite file per test, a fresh MySQL database per test.

use procpulse_storage::{Database, DatabaseUrl, PoolOptions};

/// A database for one test; keeps its temp dir alive.
pub struct TestDb {
    pub db: Database,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url: DatabaseUrl = format!("sqlite://{}", dir.path().join("t.db").display())
        .parse()
        .unwrap();
    let db = Database::connect(&url, &PoolOptions::default())
        .await
        .expect("sqlite connect");
    TestDb {
        db,
        _dir: Some(dir),
    }
}

/// The MySQL server URL ([`procpulse_storage::testing::test_mysql_url`]).
pub fn mysql_url() -> Option<String> {
    procpulse_storage::testing::test_mysql_url()
}

/// A fresh, empty database on the test server (`<db>_t<random>`), migrated.
pub async fn mysql() -> Option<TestDb> {
    let base = mysql_url()?;
    let url = procpulse_storage::testing::fresh_mysql_database(&base)
        .await
        .expect("create test database");
    let url: DatabaseUrl = url.parse().unwrap();
    let db = Database::connect(&url, &PoolOptions::default())
        .await
        .expect("mysql connect");
    Some(TestDb { db, _dir: None })
}

/// Every backend available to this run.
pub async fn all() -> Vec<TestDb> {
    let mut v = vec![sqlite().await];
    if let Some(m) = mysql().await {
        v.push(m);
    }
    v
}
