//! The `mcp:` section: the MCP servers agents reach through `/mcp/{server}` — a Streamable HTTP
//! URL, or a command Warden starts and speaks to over stdio — and how their tool definitions are
//! pinned.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;
use warden_policy::parse_duration_ms;

use super::Validator;

/// The MCP gateway's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct McpSettings {
    /// Upstream servers by the name agents use in `/mcp/{server}`.
    pub servers: BTreeMap<String, McpServer>,
}

/// One upstream MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServer {
    /// How Warden reaches it.
    pub transport: McpTransport,
    /// Whether a tool seen for the first time with no pin is pinned then (`true`) or hidden and
    /// refused until `warden mcp pin` or `warden mcp approve-change` pins it (`false`).
    pub pin_on_first_sight: bool,
    /// The signed pin file (default `DATA_DIR/mcp-pins/SERVER.json`).
    pub pin_file: PathBuf,
    /// Longest wait for one upstream answer, in milliseconds (a policy `timeout` constraint may
    /// shorten it for a call).
    pub timeout_ms: u64,
}

/// How Warden reaches an MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpTransport {
    /// Streamable HTTP at this URL.
    Http {
        /// The server's MCP endpoint.
        url: String,
    },
    /// A process Warden starts, speaking newline-delimited JSON-RPC on stdin/stdout.
    Stdio {
        /// The program and its arguments.
        command: Vec<String>,
        /// Extra environment variables.
        env: BTreeMap<String, String>,
        /// The working directory (default: the configuration file's directory).
        cwd: PathBuf,
    },
}

/// Default upstream timeout.
const DEFAULT_TIMEOUT_MS: u64 = 60_000;

/// `mcp:` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMcp {
    /// Upstream MCP servers by name.
    #[serde(default)]
    pub servers: BTreeMap<String, RawMcpServer>,
}

/// One server as written: exactly one of `url` and `command`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMcpServer {
    /// A Streamable HTTP endpoint (`http://127.0.0.1:9000/mcp`).
    pub url: Option<String>,
    /// A command Warden starts and supervises (`[python, server.py]`).
    pub command: Option<Vec<String>>,
    /// Environment variables for `command`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory for `command`, relative to this file.
    pub cwd: Option<String>,
    /// `first_sight` (default: pin a tool the first time it is seen) or `file` (only the pin
    /// file's pins count; unpinned tools are hidden and refused).
    pub pins: Option<RawPinMode>,
    /// The pin file, relative to this file (default `DATA_DIR/mcp-pins/SERVER.json`).
    pub pin_file: Option<String>,
    /// Longest wait for one upstream answer (`60s`).
    pub timeout: Option<String>,
}

/// Where pins come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawPinMode {
    /// The pin file, plus first sight of tools it does not name.
    FirstSight,
    /// The pin file only.
    File,
}

impl Validator<'_> {
    pub(super) fn mcp(
        &mut self,
        raw: Option<&Spanned<RawMcp>>,
        base: &Path,
        data_dir: &Path,
    ) -> McpSettings {
        let mut out = McpSettings::default();
        let Some(raw) = raw else {
            return out;
        };
        let at = raw.referenced;
        for (name, s) in &raw.value.servers {
            let field = |f: &str| format!("mcp.servers.{name}.{f}");
            let name_ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !name_ok {
                self.problem(
                    at,
                    &format!("mcp.servers.{name}"),
                    "a server name is letters, digits, `-` and `_` (it is a URL path segment)"
                        .into(),
                );
                continue;
            }
            let transport = match (&s.url, &s.command) {
                (Some(url), None) => {
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        self.problem(at, &field("url"), format!("`{url}` is not an http(s) URL"));
                    }
                    McpTransport::Http { url: url.clone() }
                }
                (None, Some(command)) => {
                    if command.first().is_none_or(String::is_empty) {
                        self.problem(at, &field("command"), "must name a program".into());
                    }
                    McpTransport::Stdio {
                        command: command.clone(),
                        env: s.env.clone(),
                        cwd: s
                            .cwd
                            .as_ref()
                            .map_or_else(|| base.to_owned(), |c| base.join(c)),
                    }
                }
                _ => {
                    self.problem(
                        at,
                        &format!("mcp.servers.{name}"),
                        "give exactly one of `url` (Streamable HTTP) and `command` (stdio)".into(),
                    );
                    continue;
                }
            };
            let mut timeout_ms = DEFAULT_TIMEOUT_MS;
            if let Some(t) = &s.timeout {
                match parse_duration_ms(t) {
                    Ok(ms) if ms > 0 => timeout_ms = ms,
                    _ => self.problem(at, &field("timeout"), format!("`{t}` is not a duration")),
                }
            }
            out.servers.insert(
                name.clone(),
                McpServer {
                    transport,
                    pin_on_first_sight: s.pins.unwrap_or(RawPinMode::FirstSight)
                        == RawPinMode::FirstSight,
                    pin_file: s.pin_file.as_ref().map_or_else(
                        || data_dir.join("mcp-pins").join(format!("{name}.json")),
                        |p| base.join(p),
                    ),
                    timeout_ms,
                },
            );
        }
        out
    }
}
