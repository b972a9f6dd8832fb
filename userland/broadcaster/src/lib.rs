//! procpulse-broadcaster (work in progress).
