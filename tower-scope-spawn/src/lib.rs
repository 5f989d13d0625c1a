//! Per-request scopes for tower and axum.
