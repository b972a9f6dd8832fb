-- The unified samples table of docs/design.md §5 (SQLite flavour).
-- Timestamps are UTC, stored as TEXT 'YYYY-MM-DD HH:MM:SS.fff' (Diesel's Timestamp on
-- SQLite), which sorts and compares chronologically.
CREATE TABLE samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    sample_id TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    source TEXT NOT NULL,
    route TEXT NOT NULL,
    collected_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    cpu_usage_percent DOUBLE NOT NULL,
    cpu_cores INTEGER NOT NULL,
    load1 DOUBLE NOT NULL,
    load5 DOUBLE NOT NULL,
    load15 DOUBLE NOT NULL,
    ram_total_kb BIGINT NOT NULL,
    ram_free_kb BIGINT NOT NULL,
    ram_available_kb BIGINT NOT NULL,
    ram_used_kb BIGINT NOT NULL,
    ram_cached_kb BIGINT NOT NULL,
    ram_swap_total_kb BIGINT NOT NULL,
    ram_swap_free_kb BIGINT NOT NULL,
    ram_used_percent DOUBLE NOT NULL,
    procs_total BIGINT NOT NULL,
    procs_running BIGINT NOT NULL,
    procs_sleeping BIGINT NOT NULL,
    procs_disk_sleep BIGINT NOT NULL,
    procs_stopped BIGINT NOT NULL,
    procs_traced BIGINT NOT NULL,
    procs_zombie BIGINT NOT NULL,
    procs_dead BIGINT NOT NULL,
    procs_idle BIGINT NOT NULL,
    procs_threads BIGINT NOT NULL,
    top_json TEXT NULL
);
CREATE INDEX samples_host_collected_at ON samples (host, collected_at);
CREATE INDEX samples_received_at ON samples (received_at);
