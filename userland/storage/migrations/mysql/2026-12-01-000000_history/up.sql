-- History (issue 15, MySQL 8 / MariaDB flavour): two rollup tiers, the tiers' retention
-- and the fold watermark, and the maintainer's lease. See src/history.rs and
-- src/maintain/. Rollup rows are always recomputed whole from their source (raw rows for
-- a minute, minute rows for an hour) and replaced, never added to: a redo cannot
-- double-count. The primary key (host, bucket) clusters a host's buckets in time order;
-- the bucket index serves the retention deletes.
-- Several statements, each safe to run again (IF NOT EXISTS, INSERT IGNORE): DDL commits
-- on its own on MySQL, so a migration interrupted half-way is simply run again.
CREATE TABLE IF NOT EXISTS rollup_1m (
    host VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    bucket DATETIME(3) NOT NULL,
    samples INT NOT NULL,
    cpu_min DOUBLE NOT NULL,
    cpu_avg DOUBLE NOT NULL,
    cpu_max DOUBLE NOT NULL,
    ram_min DOUBLE NOT NULL,
    ram_avg DOUBLE NOT NULL,
    ram_max DOUBLE NOT NULL,
    swap_min DOUBLE NULL,
    swap_avg DOUBLE NULL,
    swap_max DOUBLE NULL,
    load1_min DOUBLE NOT NULL,
    load1_avg DOUBLE NOT NULL,
    load1_max DOUBLE NOT NULL,
    zombies_max BIGINT NOT NULL,
    disk_sleep_max BIGINT NOT NULL,
    cpu_cores INT NOT NULL,
    source VARCHAR(16) NOT NULL,
    PRIMARY KEY (host, bucket),
    KEY rollup_1m_bucket (bucket)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
CREATE TABLE IF NOT EXISTS rollup_1h (
    host VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    bucket DATETIME(3) NOT NULL,
    samples INT NOT NULL,
    cpu_min DOUBLE NOT NULL,
    cpu_avg DOUBLE NOT NULL,
    cpu_max DOUBLE NOT NULL,
    ram_min DOUBLE NOT NULL,
    ram_avg DOUBLE NOT NULL,
    ram_max DOUBLE NOT NULL,
    swap_min DOUBLE NULL,
    swap_avg DOUBLE NULL,
    swap_max DOUBLE NULL,
    load1_min DOUBLE NOT NULL,
    load1_avg DOUBLE NOT NULL,
    load1_max DOUBLE NOT NULL,
    zombies_max BIGINT NOT NULL,
    disk_sleep_max BIGINT NOT NULL,
    cpu_cores INT NOT NULL,
    source VARCHAR(16) NOT NULL,
    PRIMARY KEY (host, bucket),
    KEY rollup_1h_bucket (bucket)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
-- keep_seconds: 0 = forever. The maintainer rewrites it from ingest's flags at start;
-- these rows carry the defaults of history::Tier::default_keep (a test checks they agree).
-- rolled_up_to (raw only): raw rows with received_at <= it are folded into rollup_1m.
CREATE TABLE IF NOT EXISTS history_tiers (
    tier VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    keep_seconds BIGINT NOT NULL,
    rolled_up_to DATETIME(3) NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
INSERT IGNORE INTO history_tiers (tier, keep_seconds, rolled_up_to) VALUES
    ('raw', 604800, NULL),
    ('1m', 7776000, NULL),
    ('1h', 63072000, NULL);
-- One maintainer at a time: a row per lease; held while lease_until is in the future.
CREATE TABLE IF NOT EXISTS maintenance_lease (
    name VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    holder VARCHAR(128) NOT NULL,
    lease_until DATETIME(3) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
INSERT IGNORE INTO maintenance_lease (name, holder, lease_until)
    VALUES ('history', '', '1970-01-01 00:00:00.000');
