//! procpulse-service (work in progress).
