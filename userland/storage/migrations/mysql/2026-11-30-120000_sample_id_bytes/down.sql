-- Back to the PAD SPACE column. Fails (duplicate key) if ids that differ only by trailing
-- spaces were stored meanwhile: delete one of each pair first.
ALTER TABLE samples MODIFY sample_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;
