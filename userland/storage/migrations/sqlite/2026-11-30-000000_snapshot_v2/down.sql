-- Drops the snapshot v2 columns (SQLite >= 3.35); their data is lost, v1 columns stay.
ALTER TABLE samples DROP COLUMN pressure;
ALTER TABLE samples DROP COLUMN cpu_per_cpu;
ALTER TABLE samples DROP COLUMN cpu_modes;
ALTER TABLE samples DROP COLUMN ram_swap_used_kb;
ALTER TABLE samples DROP COLUMN ram_shared_kb;
ALTER TABLE samples DROP COLUMN ram_buffers_kb;
