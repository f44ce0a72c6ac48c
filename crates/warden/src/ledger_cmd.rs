//! `warden ledger …`: init, public-key, verify, export, show, tail, bench.

use std::process::ExitCode;

/// Arguments of `warden ledger`.
#[derive(Debug, clap::Args)]
pub struct LedgerArgs {}

/// Runs `warden ledger`.
pub fn run(_args: LedgerArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("warden ledger: not built yet")
}
