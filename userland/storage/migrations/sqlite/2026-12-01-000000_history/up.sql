-- History (issue 15, SQLite flavour): two rollup tiers, the tiers' retention and the
-- fold watermark, and the maintainer's lease. See src/history.rs and src/maintain/.
-- Rollup rows are always recomputed whole from their source (raw rows for a minute,
-- minute rows for an hour) and replaced, never added to: a redo cannot double-count.
-- WITHOUT ROWID: the primary key (host, bucket) is the table, so a range read of one
-- host is one B-tree walk. The bucket index serves the retention deletes.
CREATE TABLE rollup_1m (
    host TEXT NOT NULL,
    bucket TIMESTAMP NOT NULL,
    samples INTEGER NOT NULL,
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
    cpu_cores INTEGER NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (host, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_1m_bucket ON rollup_1m (bucket);
CREATE TABLE rollup_1h (
    host TEXT NOT NULL,
    bucket TIMESTAMP NOT NULL,
    samples INTEGER NOT NULL,
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
    cpu_cores INTEGER NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (host, bucket)
) WITHOUT ROWID;
CREATE INDEX rollup_1h_bucket ON rollup_1h (bucket);
-- keep_seconds: 0 = forever. The maintainer rewrites it from ingest's flags at start;
-- these rows carry the defaults of history::Tier::default_keep (a test checks they agree).
-- rolled_up_to (raw only): raw rows with received_at <= it are folded into rollup_1m.
CREATE TABLE history_tiers (
    tier TEXT NOT NULL PRIMARY KEY,
    keep_seconds BIGINT NOT NULL,
    rolled_up_to TIMESTAMP NULL
);
INSERT INTO history_tiers (tier, keep_seconds, rolled_up_to) VALUES
    ('raw', 604800, NULL),
    ('1m', 7776000, NULL),
    ('1h', 63072000, NULL);
-- One maintainer at a time: a row per lease; held while lease_until is in the future.
CREATE TABLE maintenance_lease (
    name TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    lease_until TIMESTAMP NOT NULL
);
INSERT INTO maintenance_lease (name, holder, lease_until)
    VALUES ('history', '', '1970-01-01 00:00:00.000');
