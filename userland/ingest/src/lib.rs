//! procpulse-ingest (work in progress).
