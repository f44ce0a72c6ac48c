//! Warden's enforcement points and what they share: the `warden.yaml` configuration, the
//! listeners, the LLM and MCP gateways, the egress proxy, the AuthZEN decision API and budgets,
//! all built on the policy engine, the ledger and the store.
//!
//! The decision logic lives in `warden-policy`, the wire formats in `warden-llm` and the evidence
//! in `warden-ledger`; this crate only wires requests to them. Start with [`Gateway::new`] and
//! [`serve`].

pub mod admin;
pub mod approvals;
pub mod authzen;
pub mod budget;
pub mod config;
pub mod egress;
pub mod halt;
pub mod identity;
pub mod llm;
pub mod mcp;
pub mod policy_holder;
pub mod policy_source;
pub mod reload;
pub mod server;
pub mod state;

pub use config::{Config, ConfigError};
pub use identity::{Credentials, KeyOwner};
pub use policy_holder::{PolicyHolder, PolicyLoad};
pub use server::{router, serve};
pub use state::{Gateway, StartError, Stores};
