-- The broadcaster's alerts lease: the replica holding it sends alert notifications
-- (userland/broadcaster/src/alerting.rs).
INSERT IGNORE INTO maintenance_lease (name, holder, lease_until)
    VALUES ('alerts', '', '1970-01-01 00:00:00.000');
