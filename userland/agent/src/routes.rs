//! The paths the agent serves, as the request metrics label them.

/// The paths the agent serves (the `route` label of the request metrics).
pub const ROUTES: &[&str] = &[
    "/api/v1/snapshot",
    "/api/v1/processes",
    "/healthz",
    "/readyz",
    "/metrics",
];
