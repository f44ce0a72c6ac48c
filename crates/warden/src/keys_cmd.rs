//! `warden keys …`: create, list and revoke the API keys agents present to the gateway.
//!
//! Wires arguments to `warden-store`'s [`SqliteKeys`] (key format, hashing, storage) and
//! `warden-gateway`'s configuration (data directory, known agents); no key logic lives here.
//! Exit codes: 0 ok, 1 no such live key to revoke, 2 usage or operational error (returned as
//! `Err`).

use crate::output::{emit, now_ms, utc};
use crate::store_args::{StoreArgs, db_path};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use warden_store::{KeyInfo, SqliteKeys};

/// Arguments of `warden keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Issue a key for an agent; print it once on stdout (only its hash is stored).
    Create(CreateArgs),
    /// List keys (ids, agents, creation and revocation times; never secrets).
    List(ListArgs),
    /// Revoke a key by id; exit 1 if there is no such live key.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The agent the key authenticates (with --config, one listed under `agents:`).
    #[arg(long)]
    agent: String,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
struct RevokeArgs {
    /// The key's id, as `list` shows it (a leading `wdn_` is accepted).
    key_id: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `warden keys`.
pub fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        KeysCommand::Create(a) => create(a),
        KeysCommand::List(a) => list(a),
        KeysCommand::Revoke(a) => revoke(a),
    }
}

fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    check_agent_name(&args.agent)?;
    let dir = match &args.store.config {
        Some(path) => {
            let config = warden_gateway::Config::load(path)
                .with_context(|| format!("loading {}", path.display()))?;
            if !config.agents.contains_key(&args.agent) {
                bail!(
                    "agent {:?} is not listed under `agents:` in {} (known agents: {})",
                    args.agent,
                    path.display(),
                    known_agents(config.agents.keys())
                );
            }
            config.data_dir
        }
        None => args.store.data_dir()?,
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let keys = open(&db_path(&dir))?;
    let issued = keys.create(&args.agent, now_ms())?;
    emit(&format!("{}\n", issued.secret))?;
    eprintln!(
        "key wdn_{} for agent {}; it is shown only once",
        issued.key_id, issued.agent_id
    );
    Ok(ExitCode::SUCCESS)
}

fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let keys = open_existing(&args.store)?;
    let mut text = String::new();
    let infos = keys.list()?;
    if args.json {
        for info in &infos {
            text.push_str(&serde_json::to_string(&serde_json::json!({
                "key_id": info.key_id,
                "agent_id": info.agent_id,
                "created_ms": info.created_ms,
                "revoked_ms": info.revoked_ms,
            }))?);
            text.push('\n');
        }
    } else {
        text = table(&infos);
    }
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn revoke(args: RevokeArgs) -> anyhow::Result<ExitCode> {
    let keys = open_existing(&args.store)?;
    let key_id = args.key_id.strip_prefix("wdn_").unwrap_or(&args.key_id);
    if keys.revoke(key_id, now_ms())? {
        eprintln!("key {key_id} revoked");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("no live key with id {key_id:?} (see `warden keys list`)");
        Ok(ExitCode::from(1))
    }
}

/// Agent names go into tables, logs and ledger records: refuse empty ones and control characters.
fn check_agent_name(agent: &str) -> anyhow::Result<()> {
    if agent.trim().is_empty() || agent.chars().any(char::is_control) {
        bail!("--agent {agent:?}: expected a non-empty name without control characters");
    }
    Ok(())
}

fn known_agents<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn open(db: &Path) -> anyhow::Result<SqliteKeys> {
    SqliteKeys::open(db).with_context(|| format!("opening {}", db.display()))
}

/// Opens the store for `list` and `revoke`, which must not create one where there is none.
fn open_existing(store: &StoreArgs) -> anyhow::Result<SqliteKeys> {
    open(&store.existing_db("`warden keys create`")?)
}

fn table(infos: &[KeyInfo]) -> String {
    let agent_width = infos
        .iter()
        .map(|i| i.agent_id.chars().count())
        .chain([5])
        .max()
        .unwrap_or(5);
    let mut text = format!(
        "{:<12}  {:<agent_width$}  {:<24}  REVOKED\n",
        "ID", "AGENT", "CREATED"
    );
    for info in infos {
        let revoked = info.revoked_ms.map_or_else(|| "-".into(), utc);
        text.push_str(&format!(
            "{:<12}  {:<agent_width$}  {:<24}  {revoked}\n",
            info.key_id,
            info.agent_id,
            utc(info.created_ms)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names_must_be_printable() {
        assert!(check_agent_name("billing-bot").is_ok());
        for bad in ["", "  ", "a\nb", "a\u{1b}[31m"] {
            assert!(check_agent_name(bad).is_err(), "{bad:?}");
        }
    }
}
