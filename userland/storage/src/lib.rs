//! procpulse-storage (work in progress).
