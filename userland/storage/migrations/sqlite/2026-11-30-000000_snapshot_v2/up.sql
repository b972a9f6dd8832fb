-- Snapshot v2 (SQLite flavour): NULLable columns, so stored v1 rows stay as they are (NULL
-- = the field was absent) and ADD COLUMN is a schema change only (no table rewrite).
-- cpu_modes, cpu_per_cpu and pressure hold the compact text forms of src/compact.rs.
ALTER TABLE samples ADD COLUMN ram_buffers_kb BIGINT NULL;
ALTER TABLE samples ADD COLUMN ram_shared_kb BIGINT NULL;
ALTER TABLE samples ADD COLUMN ram_swap_used_kb BIGINT NULL;
ALTER TABLE samples ADD COLUMN cpu_modes TEXT NULL;
ALTER TABLE samples ADD COLUMN cpu_per_cpu TEXT NULL;
ALTER TABLE samples ADD COLUMN pressure TEXT NULL;
