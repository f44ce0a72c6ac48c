//! Warden's MCP protocol core: what the MCP gateway needs to know about the Model Context
//! Protocol, with no I/O.
//!
//! - [`message`]: JSON-RPC 2.0 messages read into a small envelope (id, method, params) while the
//!   original JSON is kept whole, so fields Warden does not know reach the other side unchanged.
//! - [`era`]: the two protocol eras — the session era (2025-03-26 … 2025-11-25: `initialize`,
//!   `Mcp-Session-Id`, GET stream, DELETE) and the stateless era (2026-07-28: every POST carries
//!   `Mcp-Method` / `Mcp-Name` headers that must agree with its body).
//! - [`tool`]: a tool definition's digest (name, description, input and output schema,
//!   annotations, as canonical JSON) and what its annotations promise.
//! - [`pins`]: the pin file, signed with the ledger's Ed25519 key and verified on load.
//! - [`visibility`]: which tools `tools/list` hides (denied whatever the arguments).
//! - [`reply`]: what Warden answers itself — JSON-RPC errors, refusals as tool results with
//!   `isError: true`, filtered `tools/list` results.
//!
//! Pure: no async runtime, HTTP stack, process or filesystem. The gateway (`warden-gateway`)
//! moves the bytes; the binary reads and writes pin files.

pub mod era;
pub mod message;
pub mod pins;
pub mod reply;
pub mod tool;
pub mod visibility;

pub use era::{
    Era, HEADER_MISMATCH, HeaderError, LATEST_SESSION_VERSION, STATELESS_VERSION,
    SUPPORTED_VERSIONS, StatelessHeaders, UNSUPPORTED_PROTOCOL_VERSION, check_headers, negotiate,
};
pub use message::{Message, MessageError, MessageKind};
pub use pins::{PIN_FORMAT, PinError, PinFile, SignedPinFile};
pub use reply::{error_response, filter_tools, result_response, tool_error};
pub use tool::{DigestError, definition_digest, is_read_only};
pub use visibility::denied_for_every_argument;
