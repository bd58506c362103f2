//! Shared CLI helpers.
