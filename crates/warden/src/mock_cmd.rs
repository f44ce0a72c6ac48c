//! `warden mock-provider`: run the scripted upstream from `warden-mock-provider`.
//!
//! Loads the script, binds the listener, prints `listening on http://ADDR` as the first line of
//! stdout (scripts and tests parse it, so it is flushed at once) and serves until killed.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use warden_mock_provider::{MockConfig, Script};

/// Arguments of `warden mock-provider`.
#[derive(Debug, clap::Args)]
pub struct MockArgs {
    /// The YAML script of replies (see examples/mock-provider/script.yaml).
    #[arg(long)]
    script: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Provider key clients must present, overriding the script's `api_key`.
    #[arg(long, env = "WARDEN_MOCK_API_KEY")]
    api_key: Option<String>,
}

/// Runs `warden mock-provider`.
pub fn run(args: MockArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.script)
        .with_context(|| format!("reading {}", args.script.display()))?;
    let mut script =
        Script::from_yaml(&text).with_context(|| format!("in {}", args.script.display()))?;
    if let Some(key) = args.api_key {
        script.set_api_key(Some(key));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "listening on http://{addr}")?;
        stdout.flush()?;
        warden_mock_provider::serve_with(listener, MockConfig::new(script))
            .await
            .context("serving")?;
        Ok(ExitCode::SUCCESS)
    })
}
