//! Where the local store is, for the subcommands that work on it directly (`warden keys`,
//! `warden admin token`): a gateway configuration (its `data_dir`) or a data directory.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{ArgGroup, Args};

/// `--config FILE` or `--data-dir DIR`, exactly one.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("store").required(true).args(["config", "data_dir"])))]
pub struct StoreArgs {
    /// Gateway configuration (`warden.yaml`): the store is its `data_dir` (for `keys create`,
    /// the agent must be listed under `agents:`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory holding `warden.db`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl StoreArgs {
    /// The data directory.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        match (&self.config, &self.data_dir) {
            (Some(path), _) => Ok(warden_gateway::Config::load(path)
                .with_context(|| format!("loading {}", path.display()))?
                .data_dir),
            (None, Some(dir)) => Ok(dir.clone()),
            (None, None) => bail!("pass --config FILE or --data-dir DIR"),
        }
    }

    /// `warden.db` of an existing store, for commands that must not create one; `create_with`
    /// names the command that would.
    pub fn existing_db(&self, create_with: &str) -> anyhow::Result<PathBuf> {
        let db = db_path(&self.data_dir()?);
        if !db.exists() {
            bail!(
                "no Warden store at {} ({create_with} creates one)",
                db.display()
            );
        }
        Ok(db)
    }
}

/// `warden.db` in the data directory.
pub fn db_path(dir: &std::path::Path) -> PathBuf {
    dir.join("warden.db")
}
