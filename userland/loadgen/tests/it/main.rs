//! Integration tests of procpulse-loadgen: the real binary against real services on
//! loopback (agent, two ingest routes on one SQLite file, the nginx split).

mod answers;
mod cli;
mod conventions;
mod e2e;
mod sigint;
mod support;
