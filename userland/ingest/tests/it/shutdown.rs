//! SIGTERM drains in-flight requests and exits 0.
