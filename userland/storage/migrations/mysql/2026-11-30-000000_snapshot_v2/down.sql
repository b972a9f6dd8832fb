-- Drops the snapshot v2 columns; their data is lost, v1 columns stay.
ALTER TABLE samples
    DROP COLUMN pressure,
    DROP COLUMN cpu_per_cpu,
    DROP COLUMN cpu_modes,
    DROP COLUMN ram_swap_used_kb,
    DROP COLUMN ram_shared_kb,
    DROP COLUMN ram_buffers_kb;
