//! Integration tests of `warden-llm`: golden conversions for every API, streaming and not, byte
//! splits, faults, request summaries and property tests. Inputs are the scripted provider's
//! recorded upstream bodies under `tests/data/input/`; expected outputs live under
//! `tests/data/expected/` and are regenerated with `UPDATE_GOLDEN=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod accumulate;
mod common;
mod cut;
mod faults;
mod golden;
mod properties;
mod requests;
mod shapes;
mod splits;
