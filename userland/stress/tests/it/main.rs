//! procpulse-stress end to end: the real binary, the real kernel's /proc.

mod lifecycle;
