//! procpulse-model integration tests.

/// Property tests: parsers and validator never panic; valid snapshots round-trip.
mod props;
