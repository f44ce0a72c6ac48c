//! The `warden` binary: a thin clap front over the Warden crates.
//!
//! Each subcommand lives in its own module and only wires arguments to library calls; no policy,
//! ledger or store logic lives here.

mod admin_client;
mod admin_cmd;
mod agents_cmd;
mod approvals_cmd;
mod budgets_cmd;
mod keys_cmd;
mod ledger_cmd;
mod mcp_cmd;
mod mock_cmd;
mod output;
mod policy_cmd;
mod quickstart_cmd;
mod serve_cmd;
mod store_args;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: a gateway allocates and frees many short-lived
/// buffers per request on every worker thread, and mimalloc's per-thread heaps make that cheaper
/// and keep memory from fragmenting across rounds of many concurrent streams.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Warden: the governance gateway for AI agents.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: agents' LLM traffic judged, recorded and released.
    Serve(serve_cmd::ServeArgs),
    /// Run the gateway, a scripted model and a scripted agent: allowed, denied and remediated tool calls, then a verified ledger.
    Quickstart(quickstart_cmd::QuickstartArgs),
    /// Lint, test, explain and evaluate policy bundles.
    Policy(policy_cmd::PolicyArgs),
    /// Create, inspect, export and verify the tamper-evident ledger.
    Ledger(ledger_cmd::LedgerArgs),
    /// Run the scripted OpenAI- and Anthropic-compatible upstream used by tests, the quickstart and benchmarks.
    MockProvider(mock_cmd::MockArgs),
    /// Create, list and revoke the API keys agents present to the gateway (stored hashed).
    Keys(keys_cmd::KeysArgs),
    /// Create, list and revoke operator tokens for the admin API (stored hashed).
    Admin(admin_cmd::AdminArgs),
    /// List, show, approve, deny and watch approval requests through the admin API.
    Approvals(approvals_cmd::ApprovalsArgs),
    /// List agents and halt or resume them (the kill switch) through the admin API.
    Agents(agents_cmd::AgentsArgs),
    /// Pin MCP servers' tool definitions and approve changed ones.
    Mcp(mcp_cmd::McpArgs),
    /// List, show, set and reset budgets (limits, spending, reset times) through the admin API.
    Budgets(budgets_cmd::BudgetsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve_cmd::run(args),
        Command::Quickstart(args) => quickstart_cmd::run(args),
        Command::Policy(args) => policy_cmd::run(args),
        Command::Ledger(args) => ledger_cmd::run(args),
        Command::MockProvider(args) => mock_cmd::run(args),
        Command::Keys(args) => keys_cmd::run(args),
        Command::Admin(args) => admin_cmd::run(args),
        Command::Approvals(args) => approvals_cmd::run(args),
        Command::Agents(args) => agents_cmd::run(args),
        Command::Mcp(args) => mcp_cmd::run(args),
        Command::Budgets(args) => budgets_cmd::run(args),
    };
    match result {
        Ok(code) => code,
        // A reader that stops early (`| head`) is not an error.
        Err(err)
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
