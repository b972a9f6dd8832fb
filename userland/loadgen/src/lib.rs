//! procpulse-loadgen (work in progress).
