//! `warden serve`: the gateway.
//!
//! Loads the configuration, opens (or on first start creates) the ledger and the key store in
//! the data directory, takes the directory's lock so no second gateway writes the same ledger,
//! then serves agents and operators until SIGINT or SIGTERM. Prints `listening on http://ADDR`
//! (agents) as the first line of stdout and `admin on http://ADDR` as the second, then
//! `egress on http://ADDR` when the egress proxy is configured (flushed at once: scripts and
//! tests parse them); logs go to stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use warden_gateway::config::LedgerDurability;
use warden_gateway::{Config, Gateway, Stores};
use warden_store::{Durability, LedgerConfig, LedgerStore};

/// Arguments of `warden serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The configuration file (see examples/warden.yaml).
    #[arg(long, env = "WARDEN_CONFIG", default_value = "warden.yaml")]
    config: PathBuf,
}

/// Runs `warden serve`.
pub fn run(args: ServeArgs) -> Result<ExitCode> {
    init_logging();
    let config = Config::load(&args.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(serve(config));
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    outcome
}

async fn serve(config: Config) -> Result<ExitCode> {
    let dir = config.data_dir.clone();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _lock = lock(&dir)?;
    let ledger_config = LedgerConfig {
        checkpoint_every: config.ledger.checkpoint_every,
        checkpoint_interval_ms: config.ledger.checkpoint_interval_ms,
        durability: match config.ledger.durability {
            LedgerDurability::Process => Durability::Process,
            LedgerDurability::PowerLoss => Durability::PowerLoss,
        },
        ..LedgerConfig::default()
    };
    let ledger = Arc::new(crate::ledger_cmd::open_or_create(
        &dir,
        ledger_config,
        "warden serve",
    )?);
    let db = dir.join("warden.db");
    let ledger_dyn: Arc<dyn LedgerStore> = ledger.clone();
    let stores =
        Stores::embedded(&db, ledger_dyn).with_context(|| format!("opening {}", db.display()))?;
    let (listen, admin_listen) = (config.listen, config.admin_listen);
    let egress_listen = config.egress.map(|e| e.listen);
    let gateway = Gateway::new(config, stores, |var| std::env::var(var).ok()).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let admin = tokio::net::TcpListener::bind(admin_listen)
        .await
        .with_context(|| format!("binding the admin listener {admin_listen}"))?;
    let egress = match egress_listen {
        Some(at) => Some(
            tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("binding the egress listener {at}"))?,
        ),
        None => None,
    };
    let addr = listener.local_addr().context("reading the bound address")?;
    let admin_addr = admin.local_addr().context("reading the bound address")?;
    // SIGTERM is caught from before the listeners are announced (SIGHUP is, by the gateway).
    let shutdown = shutdown_signal();
    let gateway = Arc::new(gateway);
    let (shutdown, egress_stop) = shared(shutdown);
    let egress_addr = match egress {
        Some(listener) => {
            let egress_addr = listener.local_addr().context("reading the bound address")?;
            tokio::spawn(warden_gateway::egress::serve(
                gateway.clone(),
                listener,
                egress_stop,
            ));
            Some(egress_addr)
        }
        None => None,
    };
    // A launcher that stops reading stdout after the first line must not stop the gateway.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on http://{addr}")
        .and_then(|()| writeln!(stdout, "admin on http://{admin_addr}"))
        .and_then(|()| match egress_addr {
            Some(egress_addr) => writeln!(stdout, "egress on http://{egress_addr}"),
            None => Ok(()),
        })
        .and_then(|()| stdout.flush());
    tracing::info!(%addr, admin = %admin_addr, data_dir = %dir.display(), "serving");
    warden_gateway::serve(gateway, listener, Some(admin), shutdown)
        .await
        .context("serving")?;
    tracing::info!("stopped; closing the ledger");
    Ok(ExitCode::SUCCESS)
}

/// `shutdown` for the agents' and admin listeners, and a second future that resolves when it
/// has (for the egress listener).
fn shared(
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (
    impl std::future::Future<Output = ()> + Send + 'static,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let first = async move {
        shutdown.await;
        let _ = stop.send(true);
    };
    let second = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    (first, second)
}

/// Holds an exclusive lock on `DIR/warden.lock` for the life of the process.
fn lock(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join("warden.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "{} is locked: another `warden serve` is using this data directory",
            path.display()
        )
    })?;
    Ok(file)
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled, so a signal sent as soon as the listeners are announced is not lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Some(mut int), Some(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}

/// Logs to stderr at the level named by `WARDEN_LOG` (`error`, `warn`, `info` (default),
/// `debug`, `trace`).
fn init_logging() {
    let level = std::env::var("WARDEN_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .try_init();
}
