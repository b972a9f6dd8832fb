//! procpulse-stress (work in progress).
