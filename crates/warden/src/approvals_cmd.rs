//! `warden approvals …`: list, show, approve, deny and watch approval requests through the
//! gateway's admin API (so it works against a remote Warden).
//!
//! Only formats what the API returns; approval logic (quorum, groups, expiry, grants) lives in
//! the gateway and the store. Exit codes: 0 ok, 1 the API refused (its message is printed),
//! 2 usage or connection error.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::admin_client::{
    AdminClient, AdminError, Connection, check_segment, now_ms, print, relative, table, text,
};

/// Arguments of `warden approvals`.
#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    #[command(subcommand)]
    command: ApprovalsCommand,
    #[command(flatten)]
    conn: Connection,
}

#[derive(Debug, Subcommand)]
enum ApprovalsCommand {
    /// List approval requests (pending by default).
    List {
        /// pending, approved, denied, expired or all.
        #[arg(long, default_value = "pending")]
        status: String,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one approval request: the action, who may approve, votes so far.
    Show {
        /// The approval id (`apr_…`).
        id: String,
        /// Print the API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Vote to approve a request (needs the approver role and one of the request's groups).
    Approve(VoteArgs),
    /// Deny a request (needs the approver role and one of the request's groups).
    Deny(VoteArgs),
    /// Follow requests live: every pending one, then each new request and decision, one per line.
    Watch {
        /// One JSON object per line: `{"event": …, "approval": …}`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct VoteArgs {
    /// The approval id (`apr_…`).
    id: String,
    /// Why, recorded in the ledger with the vote.
    #[arg(long)]
    reason: Option<String>,
    /// Print the API's JSON (the request after the vote).
    #[arg(long)]
    json: bool,
}

/// Runs `warden approvals`.
pub fn run(args: ApprovalsArgs) -> Result<ExitCode> {
    let outcome = AdminClient::new(&args.conn).and_then(|client| match args.command {
        ApprovalsCommand::List { status, json } => list(&client, &status, json),
        ApprovalsCommand::Show { id, json } => show(&client, &id, json),
        ApprovalsCommand::Approve(vote_args) => vote(&client, &vote_args, "approve"),
        ApprovalsCommand::Deny(vote_args) => vote(&client, &vote_args, "deny"),
        ApprovalsCommand::Watch { json } => watch(&client, json),
    });
    Ok(match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    })
}

fn list(client: &AdminClient, status: &str, as_json: bool) -> Result<(), AdminError> {
    let path_status = check_segment(status, "--status")?;
    let body = client.get(&format!("/v1/approvals?status={path_status}"))?;
    if as_json {
        return print(&format!("{body:#}"));
    }
    let items = body
        .get("approvals")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.is_empty() {
        return print(&format!("no {status} approval requests"));
    }
    let now = now_ms();
    let mut rows = vec![[
        "ID".to_owned(),
        "STATUS".to_owned(),
        "AGENT".to_owned(),
        "TOOL".to_owned(),
        "VOTES".to_owned(),
        "EXPIRES".to_owned(),
        "REASON".to_owned(),
    ]];
    for a in &items {
        rows.push([
            text(a, "id"),
            text(a, "status"),
            text(a, "agent"),
            text(a, "tool"),
            votes(a),
            relative(number(a, "expires_ms"), now),
            text(a, "reason"),
        ]);
    }
    print(&table(&rows))
}

fn show(client: &AdminClient, id: &str, as_json: bool) -> Result<(), AdminError> {
    let id = check_segment(id, "the approval id")?;
    let a = client.get(&format!("/v1/approvals/{id}"))?;
    if as_json {
        return print(&format!("{a:#}"));
    }
    let now = now_ms();
    let approvers = match list_of(&a, "approvers") {
        groups if groups.is_empty() => "any approver".to_owned(),
        groups => groups.join(", "),
    };
    let decided = a
        .get("decided_ms")
        .and_then(Value::as_u64)
        .map_or_else(|| "-".to_owned(), |ms| relative(ms, now));
    let lines = [
        format!("id:            {}", text(&a, "id")),
        format!("status:        {}", text(&a, "status")),
        format!("agent:         {}", text(&a, "agent")),
        format!("tool:          {}", text(&a, "tool")),
        format!("reason:        {}", text(&a, "reason")),
        format!("rules:         {}", list_of(&a, "rules").join(", ")),
        format!("approvers:     {approvers}"),
        format!("votes:         {}", votes(&a)),
        format!("approved by:   {}", list_of(&a, "approvals").join(", ")),
        format!(
            "requested:     {}",
            relative(number(&a, "requested_ms"), now)
        ),
        format!("expires:       {}", relative(number(&a, "expires_ms"), now)),
        format!("decided:       {decided}"),
        format!("action digest: {}", text(&a, "action_digest")),
        format!("bundle digest: {}", text(&a, "bundle_digest")),
        format!("record:        {}", text(&a, "decision_record")),
        format!(
            "action:        {}",
            a.get("action").map(Value::to_string).unwrap_or_default()
        ),
    ];
    print(&lines.join("\n"))
}

fn vote(client: &AdminClient, args: &VoteArgs, verb: &str) -> Result<(), AdminError> {
    let id = check_segment(&args.id, "the approval id")?;
    let body = match &args.reason {
        Some(reason) => json!({ "reason": reason }),
        None => json!({}),
    };
    let a = client.post(&format!("/v1/approvals/{id}/{verb}"), &body)?;
    if args.json {
        return print(&format!("{a:#}"));
    }
    print(&format!(
        "{}: {} ({} approvals)",
        text(&a, "id"),
        text(&a, "status"),
        votes(&a)
    ))
}

fn watch(client: &AdminClient, as_json: bool) -> Result<(), AdminError> {
    client.follow("/v1/approvals/watch", |event, data| {
        let approval: Value = serde_json::from_str(data).map_err(|e| {
            AdminError::Transport(format!("the watch stream sent invalid JSON: {e}"))
        })?;
        let line = if as_json {
            json!({ "event": event, "approval": approval }).to_string()
        } else {
            format!(
                "{event:<9} {}  {:<8} agent={} tool={} votes={} expires={} reason={}",
                text(&approval, "id"),
                text(&approval, "status"),
                text(&approval, "agent"),
                text(&approval, "tool"),
                votes(&approval),
                relative(number(&approval, "expires_ms"), now_ms()),
                text(&approval, "reason"),
            )
        };
        // A reader that went away (`| head`) ends the watch quietly.
        Ok(print(&line).is_ok())
    })
}

fn number(v: &Value, field: &str) -> u64 {
    v.get(field).and_then(Value::as_u64).unwrap_or(0)
}

fn list_of(v: &Value, field: &str) -> Vec<String> {
    v.get(field)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn votes(a: &Value) -> String {
    format!("{}/{}", list_of(a, "approvals").len(), number(a, "quorum"))
}
