//! `warden policy …`: lint, test, explain and eval over a bundle directory.

use std::process::ExitCode;

/// Arguments of `warden policy`.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {}

/// Runs `warden policy`.
pub fn run(_args: PolicyArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("warden policy: not built yet")
}
