DROP TABLE IF EXISTS maintenance_lease;
DROP TABLE IF EXISTS history_tiers;
DROP TABLE IF EXISTS rollup_1h;
DROP TABLE IF EXISTS rollup_1m;
