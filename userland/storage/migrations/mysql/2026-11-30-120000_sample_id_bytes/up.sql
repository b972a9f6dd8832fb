-- Byte-exact sample_id (issue 14): `ascii_bin` is a PAD SPACE collation, so 'x' and 'x '
-- were equal to the unique index while the service treats them as two ids (and every
-- insert of the second failed as a duplicate forever). VARBINARY compares bytes, with no
-- padding, on MariaDB and on MySQL 8 alike (MariaDB 10.11 has no utf8mb4_0900_bin and
-- MySQL 8 has no ascii_nopad_bin, so no collation name works on both).
-- Converting can only make stored ids more distinct, so the unique index still holds.
-- The table is rebuilt (ALGORITHM=COPY/INPLACE chosen by the server): seconds per million
-- rows; run it in a quiet window on a large table.
-- One statement, so it runs the same whether or not the client enables multi-statements.
ALTER TABLE samples MODIFY sample_id VARBINARY(128) NOT NULL;
