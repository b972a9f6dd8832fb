-- Snapshot v2 (MySQL 8 / MariaDB flavour): NULLable columns appended at the end, so stored
-- v1 rows stay as they are (NULL = the field was absent) and InnoDB adds them instantly
-- (MariaDB >= 10.3, MySQL >= 8.0.12: no table rebuild).
-- cpu_modes, cpu_per_cpu and pressure hold the compact ASCII text forms of src/compact.rs
-- (cpu_per_cpu: at most 1,024 entries, well under TEXT's 65,535 bytes).
-- One statement, so it runs the same whether or not the client enables multi-statements.
ALTER TABLE samples
    ADD COLUMN ram_buffers_kb BIGINT NULL,
    ADD COLUMN ram_shared_kb BIGINT NULL,
    ADD COLUMN ram_swap_used_kb BIGINT NULL,
    ADD COLUMN cpu_modes TEXT CHARACTER SET ascii COLLATE ascii_bin NULL,
    ADD COLUMN cpu_per_cpu TEXT CHARACTER SET ascii COLLATE ascii_bin NULL,
    ADD COLUMN pressure TEXT CHARACTER SET ascii COLLATE ascii_bin NULL;
