DELETE FROM maintenance_lease WHERE name = 'alerts';
