//! `warden mcp …`: MCP tool pins.
//!
//! - `pin SERVER`: asks the server (as configured in `warden.yaml`) for its tools and writes its
//!   pin file, signed with the ledger key from the data directory. A running gateway picks the
//!   file up when it changes.
//! - `approve-change SERVER TOOL`: through the gateway's admin API, pins the definition the
//!   server now gives for a tool whose definition changed, so it is shown and callable again; the
//!   gateway records the approval in the ledger.
//!
//! Only wires arguments to `warden-gateway` and `warden-mcp`; no pinning logic lives here.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};
use serde_json::json;
use warden_gateway::Config;
use warden_gateway::mcp::pins::write_atomically;
use warden_gateway::mcp::upstream::Upstream;
use warden_mcp::{PinFile, definition_digest};

use crate::admin_client::{AdminClient, Connection, check_segment, print};

/// Arguments of `warden mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(subcommand)]
    command: McpCommand,
}

#[derive(Debug, Subcommand)]
enum McpCommand {
    /// Ask a server for its tools and write its pin file, signed with the ledger key.
    Pin {
        /// The server's name under `mcp.servers`.
        server: String,
        /// The configuration file.
        #[arg(long, env = "WARDEN_CONFIG", default_value = "warden.yaml")]
        config: PathBuf,
    },
    /// Approve a tool's changed definition (through the admin API; recorded in the ledger).
    ApproveChange {
        /// The server's name.
        server: String,
        /// The tool's name.
        tool: String,
        #[command(flatten)]
        conn: Connection,
    },
}

/// Runs `warden mcp`.
pub fn run(args: McpArgs) -> Result<ExitCode> {
    match args.command {
        McpCommand::Pin { server, config } => pin(&server, &config),
        McpCommand::ApproveChange { server, tool, conn } => {
            let outcome = AdminClient::new(&conn).and_then(|client| {
                let path = format!(
                    "/v1/mcp/servers/{}/tools/{}/approve-change",
                    check_segment(&server, "server")?,
                    check_segment(&tool, "tool")?
                );
                let body = client.post(&path, &json!({}))?;
                print(&format!(
                    "approved: tool `{tool}` of `{server}` is pinned to {} (ledger record {})",
                    body.get("pinned").and_then(|v| v.as_str()).unwrap_or("?"),
                    body.get("record").and_then(|v| v.as_str()).unwrap_or("?"),
                ))
            });
            Ok(match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => e.report(),
            })
        }
    }
}

fn pin(server: &str, config_path: &std::path::Path) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let settings = config
        .mcp
        .servers
        .get(server)
        .ok_or_else(|| anyhow!("no MCP server `{server}` in {}", config_path.display()))?;
    let key = crate::ledger_cmd::keyfile::load(&config.data_dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .build()
        .context("building the HTTP client")?;
    let timeout = Duration::from_millis(settings.timeout_ms);
    let tools = runtime.block_on(async {
        let upstream = Upstream::start(server, settings, client)?;
        let listed = upstream.list_tools(timeout).await;
        upstream.shutdown().await;
        listed
    })?;
    let mut pins = BTreeMap::new();
    for def in &tools {
        let name = warden_mcp::tool::name_of(def).unwrap_or_default();
        let digest = definition_digest(def).with_context(|| format!("tool `{name}`"))?;
        pins.insert(name.to_owned(), digest);
    }
    let signed = PinFile {
        server: server.to_owned(),
        tools: pins,
    }
    .sign(&key)?;
    write_atomically(&settings.pin_file, &signed.to_text()).map_err(|e| anyhow!(e))?;
    let mut out = format!(
        "pinned {} tool(s) of `{server}` in {}\n",
        signed.tools.len(),
        settings.pin_file.display()
    );
    for (tool, digest) in &signed.tools {
        out.push_str(&format!("  {tool}  {digest}\n"));
    }
    print(out.trim_end())?;
    Ok(ExitCode::SUCCESS)
}
