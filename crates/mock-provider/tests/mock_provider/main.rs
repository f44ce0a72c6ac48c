//! Integration tests of the mock provider: golden files for every API shape, HTTP behaviour and
//! faults, and script loading errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

mod common;
mod golden;
mod http;
mod robustness;
mod script_errors;
