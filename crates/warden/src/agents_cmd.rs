//! `warden agents …`: list the configured agents with their halt state, and the kill switch
//! (`halt`/`resume` one agent or every agent) through the gateway's admin API.
//!
//! Only formats what the API returns; halting (refusing new calls, ending streams, recording
//! the operator) happens in the gateway. Exit codes: 0 ok, 1 the API refused (its message is
//! printed), 2 usage or connection error.

use std::process::ExitCode;

use anyhow::Result;
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{Value, json};

use crate::admin_client::{
    AdminClient, AdminError, Connection, check_segment, now_ms, print, relative, table, text,
};

/// Arguments of `warden agents`.
#[derive(Debug, Args)]
pub struct AgentsArgs {
    #[command(subcommand)]
    command: AgentsCommand,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Debug, Subcommand)]
enum AgentsCommand {
    /// List the configured agents and whether each is halted.
    List {
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Halt an agent (or every agent): new calls are refused, streams in flight end at once.
    Halt {
        #[command(flatten)]
        target: Target,
        /// Why, shown to operators and recorded in the ledger.
        #[arg(long)]
        reason: String,
    },
    /// Lift a halt on an agent (or the global halt with --all).
    Resume {
        #[command(flatten)]
        target: Target,
    },
}

/// One agent by name, or `--all`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["name", "all"])))]
struct Target {
    /// The agent's id, as configured under `agents:`.
    name: Option<String>,
    /// Every agent (the global halt).
    #[arg(long)]
    all: bool,
}

/// Runs `warden agents`.
pub fn run(args: AgentsArgs) -> Result<ExitCode> {
    let outcome = AdminClient::new(&args.conn).and_then(|client| match args.command {
        AgentsCommand::List { json } => list(&client, json),
        AgentsCommand::Halt { target, reason } => {
            change(&client, &target, "halt", &json!({ "reason": reason }))
        }
        AgentsCommand::Resume { target } => change(&client, &target, "resume", &json!({})),
    });
    Ok(match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    })
}

fn list(client: &AdminClient, as_json: bool) -> Result<(), AdminError> {
    let body = client.get("/v1/agents")?;
    if as_json {
        return print(&format!("{body:#}"));
    }
    let now = now_ms();
    if let Some(global) = body.get("global_halt").filter(|g| !g.is_null()) {
        print(&format!("EVERY AGENT HALTED: {}", halt_state(global, now)))?;
    }
    let agents = body
        .get("agents")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if agents.is_empty() {
        return print("no agents configured");
    }
    let mut rows = vec![[
        "AGENT".to_owned(),
        "TENANT".to_owned(),
        "TEAM".to_owned(),
        "STATE".to_owned(),
    ]];
    for a in &agents {
        let state = match a.get("halted").filter(|h| !h.is_null()) {
            Some(h) => halt_state(h, now),
            None => "running".to_owned(),
        };
        rows.push([text(a, "id"), text(a, "tenant"), text(a, "team"), state]);
    }
    print(&table(&rows))
}

/// `halted by NAME 5s ago: REASON`.
fn halt_state(h: &Value, now: u64) -> String {
    let since = h.get("since_ms").and_then(Value::as_u64).unwrap_or(now);
    format!(
        "halted by {} {}: {}",
        text(h, "by"),
        relative(since, now),
        text(h, "reason")
    )
}

fn change(
    client: &AdminClient,
    target: &Target,
    verb: &str,
    body: &Value,
) -> Result<(), AdminError> {
    let path = match (&target.name, target.all) {
        (Some(name), false) => {
            let name = check_segment(name, "the agent name")?;
            format!("/v1/agents/{name}/{verb}")
        }
        (None, true) => format!("/v1/{verb}"),
        _ => {
            return Err(AdminError::Usage(
                "name one agent or pass --all, not both".to_owned(),
            ));
        }
    };
    let answer = client.post(&path, body)?;
    let agent = match text(&answer, "agent").as_str() {
        "*" => "every agent".to_owned(),
        name => format!("agent {name}"),
    };
    let halted = answer.get("halted").and_then(Value::as_bool) == Some(true);
    let changed = answer.get("changed").and_then(Value::as_bool) == Some(true);
    let line = match (halted, changed) {
        (true, true) => format!("{agent} halted"),
        (true, false) => format!("{agent} was already halted (reason updated)"),
        (false, true) => format!("{agent} resumed"),
        (false, false) => format!("{agent} was not halted"),
    };
    print(&line)
}
