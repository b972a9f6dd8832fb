DROP TABLE maintenance_lease;
DROP TABLE history_tiers;
DROP TABLE rollup_1h;
DROP TABLE rollup_1m;
