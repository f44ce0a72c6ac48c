//! Warden's enforcement points and what they share: the `warden.yaml` configuration, the
//! listeners, and the LLM, MCP, egress and AuthZEN gateways built on the policy engine, the ledger
//! and the store.
//!
//! The decision logic lives in `warden-policy` and the evidence in `warden-ledger`; this crate
//! only wires requests to them.

pub mod config;
pub mod policy_holder;
pub mod policy_source;

pub use config::{Config, ConfigError};
pub use policy_holder::{PolicyHolder, PolicyLoad};
