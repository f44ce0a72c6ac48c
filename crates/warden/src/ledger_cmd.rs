//! `warden ledger …`: init, public-key, verify, export, show, tail, bench.
//!
//! Wires arguments to `warden-ledger` (formats, verification) and `warden-store` (the SQLite
//! ledger); no ledger logic lives here. Exit codes: 0 ok, 1 verification failure, 2 usage or
//! operational error (returned as `Err`).

mod bench;
mod browse;
pub(crate) mod keyfile;
mod source;
mod time;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use warden_store::LedgerStore;

/// Arguments of `warden ledger`.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// Directory holding `warden.db` and `ledger-signing.key`.
    #[arg(
        long,
        global = true,
        env = "WARDEN_DATA_DIR",
        default_value = "./warden-data"
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: LedgerCommand,
}

#[derive(Debug, Subcommand)]
enum LedgerCommand {
    /// Create the ledger and its Ed25519 signing key; print the public JWK.
    Init(InitArgs),
    /// Print the ledger's public key.
    PublicKey(PublicKeyArgs),
    /// Check every link, agent chain, checkpoint and receipt; exit 1 naming the first bad seq.
    Verify(verify::VerifyArgs),
    /// Write records (and the checkpoints that verify them) as JSON Lines.
    Export(browse::ExportArgs),
    /// Print one record by seq or id.
    Show(browse::ShowArgs),
    /// Print the latest records; with -f, keep printing new ones.
    Tail(browse::TailArgs),
    /// Append synthetic decision records through the real store and report throughput.
    Bench(bench::BenchArgs),
}

#[derive(Debug, Args)]
struct InitArgs {
    /// Checkpoint origin line (the ledger's name in signed checkpoints).
    #[arg(long, default_value = "warden.local/ledger")]
    origin: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KeyFormat {
    /// RFC 8037 JWK with RFC 7638 `kid`.
    Jwk,
    /// SubjectPublicKeyInfo PEM.
    Pem,
    /// C2SP signed-note verifier key.
    Note,
}

#[derive(Debug, Args)]
struct PublicKeyArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "jwk")]
    format: KeyFormat,
}

/// Runs `warden ledger`.
pub fn run(args: LedgerArgs) -> anyhow::Result<ExitCode> {
    let dir = args.data_dir;
    match args.command {
        LedgerCommand::Init(a) => init(&dir, a),
        LedgerCommand::PublicKey(a) => public_key(&dir, a),
        LedgerCommand::Verify(a) => verify::run(&dir, a),
        LedgerCommand::Export(a) => browse::export(&dir, a),
        LedgerCommand::Show(a) => browse::show(&dir, a),
        LedgerCommand::Tail(a) => browse::tail(&dir, a),
        LedgerCommand::Bench(a) => bench::run(&dir, a),
    }
}

fn init(dir: &std::path::Path, args: InitArgs) -> anyhow::Result<ExitCode> {
    let config = warden_store::LedgerConfig {
        origin: args.origin,
        ..warden_store::LedgerConfig::default()
    };
    let store = create(dir, config, "warden ledger init")?;
    let public = store.public_key();
    store.close();
    emit(&format!(
        "{}\n",
        serde_json::to_string_pretty(&public.to_jwk())?
    ))?;
    eprintln!("ledger created in {}", source::db_path(dir).display());
    Ok(ExitCode::SUCCESS)
}

/// Creates the signing key and the ledger in `dir`, whose first record is the key's creation
/// by `principal`.
pub(crate) fn create(
    dir: &std::path::Path,
    config: warden_store::LedgerConfig,
    principal: &str,
) -> anyhow::Result<warden_store::SqliteLedger> {
    let key = keyfile::create(dir)?;
    let public = key.public_key();
    let db = source::db_path(dir);
    let store =
        warden_store::SqliteLedger::create(&db, key, config, Box::new(warden_store::SystemClock))
            .inspect_err(|_| keyfile::discard(dir))?;
    let created = warden_ledger::RecordDraft {
        actor: warden_ledger::Actor {
            principal: Some(principal.into()),
            ..Default::default()
        },
        bundle_digest: None,
        event: warden_ledger::Event::KeyChange(warden_ledger::KeyChange {
            key_id: public.key_id(),
            change: "created".into(),
            previous_key_id: None,
        }),
    };
    store.append(created).wait()?;
    Ok(store)
}

/// Opens the ledger in `dir`, creating it (and its key) when the directory has none.
pub(crate) fn open_or_create(
    dir: &std::path::Path,
    config: warden_store::LedgerConfig,
    principal: &str,
) -> anyhow::Result<warden_store::SqliteLedger> {
    if !keyfile::key_path(dir).exists() {
        return create(dir, config, principal);
    }
    let key = keyfile::load(dir)?;
    let db = source::db_path(dir);
    warden_store::SqliteLedger::open(&db, key, config, Box::new(warden_store::SystemClock))
        .with_context(|| format!("opening the ledger in {}", db.display()))
}

fn public_key(dir: &std::path::Path, args: PublicKeyArgs) -> anyhow::Result<ExitCode> {
    let key = keyfile::load(dir)?.public_key();
    match args.format {
        KeyFormat::Jwk => emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&key.to_jwk())?
        ))?,
        KeyFormat::Pem => emit(&key.to_spki_pem())?,
        KeyFormat::Note => {
            let origin = source::recorded_origin(dir)?;
            emit(&format!("{}\n", key.note_verifier_key(&origin)))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout, reporting a closed pipe as an error instead of panicking.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
