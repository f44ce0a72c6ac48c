//! `warden budgets …`: list, show, set and reset budgets through the gateway's admin API.
//!
//! Only formats what the API returns; reservation, settlement and window logic live in the
//! gateway, `warden-budget` and the store. Exit codes: 0 ok, 1 the API refused (its message is
//! printed), 2 usage or connection error.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::admin_client::{AdminClient, AdminError, Connection, check_segment, print, table, text};

/// Arguments of `warden budgets`.
#[derive(Debug, Args)]
pub struct BudgetsArgs {
    #[command(subcommand)]
    command: BudgetsCommand,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Debug, Subcommand)]
enum BudgetsCommand {
    /// Every limit and every scope with spending in its current period.
    List {
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One scope's limits, spending and reset times.
    Show {
        /// The scope: `agent:ID`, `team:ID`, `tenant:ID` or `run:ID`.
        scope: String,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set (or with `--clear` remove) an operator limit on a scope (needs the admin role).
    Set {
        /// The scope: `agent:ID`, `team:ID`, `tenant:ID` or `run:ID`.
        scope: String,
        /// day, month or total.
        #[arg(long)]
        window: String,
        /// The limit in USD per window.
        #[arg(long, required_unless_present = "clear", conflicts_with = "clear")]
        usd: Option<f64>,
        /// Remove the operator limit (a configured one applies again).
        #[arg(long)]
        clear: bool,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reset a scope's settled spending in the current period (needs the admin role).
    Reset {
        /// The scope: `agent:ID`, `team:ID`, `tenant:ID` or `run:ID`.
        scope: String,
        /// Only this window (day, month or total); default every window.
        #[arg(long)]
        window: Option<String>,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `warden budgets`.
pub fn run(args: BudgetsArgs) -> Result<ExitCode> {
    let outcome = AdminClient::new(&args.conn).and_then(|client| match args.command {
        BudgetsCommand::List { json } => list(&client, json),
        BudgetsCommand::Show { scope, json } => {
            let body = client.get(&format!("/v1/budgets/{}", scope_segment(&scope)?))?;
            render(&body, json)
        }
        BudgetsCommand::Set {
            scope,
            window,
            usd,
            clear,
            json,
        } => {
            let usd = if clear { Value::Null } else { json!(usd) };
            let body = client.post(
                &format!("/v1/budgets/{}", scope_segment(&scope)?),
                &json!({"window": window, "usd": usd}),
            )?;
            render(&body, json)
        }
        BudgetsCommand::Reset {
            scope,
            window,
            json,
        } => {
            let body = client.post(
                &format!("/v1/budgets/{}/reset", scope_segment(&scope)?),
                &json!({"window": window}),
            )?;
            render(&body, json)
        }
    });
    Ok(match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    })
}

/// `kind:id` checked to be one path segment.
fn scope_segment(scope: &str) -> Result<String, AdminError> {
    let Some((kind, id)) = scope.split_once(':') else {
        return Err(AdminError::Usage(format!(
            "scope `{scope}` must be agent:ID, team:ID, tenant:ID or run:ID"
        )));
    };
    if !matches!(kind, "agent" | "team" | "tenant" | "run") {
        return Err(AdminError::Usage(format!(
            "scope kind `{kind}` must be agent, team, tenant or run"
        )));
    }
    Ok(format!("{kind}:{}", check_segment(id, "scope id")?))
}

fn list(client: &AdminClient, as_json: bool) -> Result<(), AdminError> {
    let body = client.get("/v1/budgets")?;
    if as_json {
        return print(&format!("{body:#}"));
    }
    render(&body, false)?;
    let outstanding = body
        .get("outstanding_reservations")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    print(&format!("{outstanding} reservations outstanding"))
}

fn render(body: &Value, as_json: bool) -> Result<(), AdminError> {
    if as_json {
        return print(&format!("{body:#}"));
    }
    let items = body
        .get("budgets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.is_empty() {
        return print("no budgets");
    }
    let mut rows = vec![[
        "SCOPE".to_owned(),
        "WINDOW".to_owned(),
        "LIMIT".to_owned(),
        "SPENT".to_owned(),
        "RESERVED".to_owned(),
        "LEFT".to_owned(),
        "RESETS".to_owned(),
        "SOURCE".to_owned(),
    ]];
    for b in &items {
        rows.push([
            text(b, "scope"),
            text(b, "window"),
            usd(b, "limit_micro_usd"),
            usd(b, "spent_micro_usd"),
            usd(b, "reserved_micro_usd"),
            usd(b, "remaining_micro_usd"),
            b.get("resets_at")
                .and_then(Value::as_str)
                .unwrap_or("never")
                .to_owned(),
            text(b, "source"),
        ]);
    }
    print(&table(&rows))
}

/// A micro-dollar field as `$1.234567` (`-` when absent).
fn usd(v: &Value, field: &str) -> String {
    match v.get(field).and_then(Value::as_u64) {
        Some(micros) => format!("${}.{:06}", micros / 1_000_000, micros % 1_000_000),
        None => "-".to_owned(),
    }
}
