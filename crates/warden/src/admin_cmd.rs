//! `warden admin …`: operator administration done directly on the store. Today `admin token`
//! creates, lists and revokes the operator tokens humans present to the admin API.
//!
//! Wires arguments to `warden-store`'s [`SqliteOperators`] (token format, roles, name rules,
//! hashing, storage) and `warden-gateway`'s configuration (the data directory); no token logic
//! lives here. Exit codes: 0 ok, 1 no such live token to revoke, 2 usage or operational error
//! (returned as `Err`).

use crate::output::{emit, now_ms, utc};
use crate::store_args::{StoreArgs, db_path};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use warden_store::{Operator, Role, SqliteOperators};

/// Arguments of `warden admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create, list and revoke operator tokens for the admin API (stored hashed).
    Token(TokenArgs),
}

#[derive(Debug, Args)]
struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issue a token for a new operator; print it once on stdout (only its hash is stored).
    Create(CreateArgs),
    /// List operators (ids, names, roles, groups, creation and revocation times; never secrets).
    List(ListArgs),
    /// Revoke an operator's token by id; exit 1 if there is no such live token.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The operator's name (1 to 64 characters of A-Za-z0-9._@-), shown in approvals and the ledger.
    #[arg(long)]
    name: String,
    /// What the operator may do.
    #[arg(long, value_parser = PossibleValuesParser::new(["admin", "approver", "auditor"]))]
    role: String,
    /// An approver group the operator belongs to (repeatable; only with `--role approver`). An
    /// approver without groups may approve only requests that name no group.
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
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
    /// The operator's id, as `list` shows it (a leading `wdo_` is accepted).
    id: String,
    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `warden admin`.
pub fn run(args: AdminArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AdminCommand::Token(token) => match token.command {
            TokenCommand::Create(a) => create(a),
            TokenCommand::List(a) => list(a),
            TokenCommand::Revoke(a) => revoke(a),
        },
    }
}

fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    let role: Role = args.role.parse()?;
    if role != Role::Approver && !args.groups.is_empty() {
        bail!("--group is only for --role approver (got --role {role})");
    }
    let dir = args.store.data_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let operators = open(&db_path(&dir))?;
    let issued = operators.create(&args.name, role, &args.groups, now_ms())?;
    emit(&format!("{}\n", issued.secret))?;
    let op = &issued.operator;
    eprintln!(
        "operator token wdo_{} for {} ({}{}); it is shown only once",
        op.id,
        op.name,
        op.role,
        if op.groups.is_empty() {
            String::new()
        } else {
            format!(" of {}", op.groups.join(", "))
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let operators = open_existing(&args.store)?.list()?;
    let text = if args.json {
        let mut text = String::new();
        for op in &operators {
            text.push_str(&serde_json::to_string(&serde_json::json!({
                "id": op.id,
                "name": op.name,
                "role": op.role,
                "groups": op.groups,
                "created_ms": op.created_ms,
                "revoked_ms": op.revoked_ms,
            }))?);
            text.push('\n');
        }
        text
    } else {
        table(&operators)
    };
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn revoke(args: RevokeArgs) -> anyhow::Result<ExitCode> {
    let operators = open_existing(&args.store)?;
    let id = args.id.strip_prefix("wdo_").unwrap_or(&args.id);
    if operators.revoke(id, now_ms())? {
        eprintln!("operator token {id} revoked");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("no live operator token with id {id:?} (see `warden admin token list`)");
        Ok(ExitCode::from(1))
    }
}

fn open(db: &Path) -> anyhow::Result<SqliteOperators> {
    SqliteOperators::open(db).with_context(|| format!("opening {}", db.display()))
}

/// Opens the store for `list` and `revoke`, which must not create one where there is none.
fn open_existing(store: &StoreArgs) -> anyhow::Result<SqliteOperators> {
    open(&store.existing_db("`warden admin token create`")?)
}

fn table(operators: &[Operator]) -> String {
    let width = |header: &str, cell: &dyn Fn(&Operator) -> usize| {
        operators
            .iter()
            .map(cell)
            .chain([header.len()])
            .max()
            .unwrap_or(header.len())
    };
    let name_w = width("NAME", &|o| o.name.len());
    let groups_w = width("GROUPS", &|o| groups_cell(o).len());
    let mut text = format!(
        "{:<12}  {:<name_w$}  {:<8}  {:<groups_w$}  {:<24}  REVOKED\n",
        "ID", "NAME", "ROLE", "GROUPS", "CREATED"
    );
    for op in operators {
        let revoked = op.revoked_ms.map_or_else(|| "-".into(), utc);
        text.push_str(&format!(
            "{:<12}  {:<name_w$}  {:<8}  {:<groups_w$}  {:<24}  {revoked}\n",
            op.id,
            op.name,
            op.role.as_str(),
            groups_cell(op),
            utc(op.created_ms)
        ));
    }
    text
}

fn groups_cell(op: &Operator) -> String {
    if op.groups.is_empty() {
        "-".into()
    } else {
        op.groups.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_groups_or_a_dash() {
        let op = |name: &str, role, groups: &[&str]| Operator {
            id: "0123456789ab".into(),
            name: name.into(),
            role,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            created_ms: 0,
            revoked_ms: None,
        };
        let text = table(&[
            op("lead", Role::Approver, &["dba", "security-team"]),
            op("root", Role::Admin, &[]),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines.first().is_some_and(|l| l.starts_with("ID")));
        assert!(text.contains("approver  dba,security-team"), "{text}");
        assert!(text.contains("admin     -"), "{text}");
    }
}
