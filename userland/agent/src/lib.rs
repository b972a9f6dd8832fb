//! procpulse-agent (work in progress).
