//! Faults under load: kill -9 of the ingest process, and MariaDB stopped and restarted.
