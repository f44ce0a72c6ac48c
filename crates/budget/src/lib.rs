//! Warden's budget arithmetic, without I/O: the shipped price table and its overrides
//! ([`PriceTable`]), token counting ([`TokenCounter`]: tiktoken for OpenAI models, a conservative
//! estimate for others), cost in integer micro-dollars ([`Micros`], never floats), budget windows
//! in UTC ([`Window`], [`Period`]), scope keys ([`ScopeKey`]) and the sizing of one reservation
//! ([`Plan`]).
//!
//! Where spending is stored, how requests are refused and how streams are cut belong to the store
//! and the gateway. This crate must not depend on an async runtime, an HTTP stack, the
//! filesystem or a clock: callers pass the current time in Unix milliseconds.

mod money;
mod plan;
mod prices;
mod scope;
mod tokens;
mod window;

pub use money::{Micros, MoneyError};
pub use plan::{Plan, PlanError, Sizing};
pub use prices::{Price, PriceError, PriceTable, UsdPrice};
pub use scope::{ScopeError, ScopeKey, ScopeKind};
pub use tokens::{StreamCount, TokenCounter};
pub use window::{Period, Window, WindowError, utc_timestamp, utc_timestamp_millis};
