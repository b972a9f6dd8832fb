ALTER TABLE history_tiers DROP COLUMN deleted_before;
