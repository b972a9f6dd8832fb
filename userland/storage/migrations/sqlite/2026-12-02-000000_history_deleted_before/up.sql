-- The delete cutoff of each tier (review of issue 15): rows of the tier before it may
-- have been deleted (raw by received_at, rollups by bucket); NULL = nothing deleted yet.
-- The maintainer writes it before each retention run and recomputes only buckets past it
-- (plus a margin), so history stored before the maintainer first ran — or during an
-- outage longer than the raw keep — is still folded instead of deleted unfolded.
ALTER TABLE history_tiers ADD COLUMN deleted_before TIMESTAMP NULL;
