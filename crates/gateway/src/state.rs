//! The gateway's shared state: configuration, the policy in force, the ledger, keys, upstreams
//! and limits. Built once at start and shared by every request.

use std::sync::Arc;

use std::path::Path;

use tokio::sync::Semaphore;
use warden_store::{
    LedgerStore, SqliteApprovals, SqliteBudgets, SqliteHalts, SqliteKeys, SqliteOperators,
    StoreError,
};

use crate::approvals::Approvals;
use crate::config::Config;
use crate::halt::Halts;
use crate::identity::Credentials;
use crate::llm::pins::ToolPins;
use crate::llm::upstream::Upstreams;
use crate::policy_holder::PolicyHolder;

/// Everything a request handler needs.
pub struct Gateway {
    /// The validated configuration.
    pub config: Config,
    /// The policy bundle in force.
    pub policy: Arc<PolicyHolder>,
    /// The ledger every decision is written to before release.
    pub ledger: Arc<dyn LedgerStore>,
    /// Agent keys.
    pub credentials: Arc<dyn Credentials>,
    /// Providers and the HTTP client.
    pub upstreams: Upstreams,
    /// Permits for concurrent streams.
    pub streams: Arc<Semaphore>,
    /// Pinned tool definitions.
    pub pins: ToolPins,
    /// Operator tokens (admin API).
    pub operators: SqliteOperators,
    /// Human approval of held calls.
    pub approvals: Approvals,
    /// The kill switch.
    pub halts: Halts,
    /// The MCP gateway's upstream servers and agent sessions.
    pub mcp: crate::mcp::McpGateway,
    /// Budgets; `None` when the configuration has no `budgets:` section.
    pub budgets: Option<Arc<crate::budget::Budgets>>,
    /// SIGHUP, registered when the gateway is built so that one sent as soon as it listens is
    /// not lost; taken by the reload watcher.
    #[cfg(unix)]
    pub(crate) hangup: std::sync::Mutex<Option<tokio::signal::unix::Signal>>,
}

/// The stores a gateway works with.
pub struct Stores {
    /// The ledger every decision is written to before release.
    pub ledger: Arc<dyn LedgerStore>,
    /// Agent keys.
    pub credentials: Arc<dyn Credentials>,
    /// Operator tokens.
    pub operators: SqliteOperators,
    /// Approval requests.
    pub approvals: SqliteApprovals,
    /// Halted agents.
    pub halts: SqliteHalts,
    /// Budget limits, spending and reservations.
    pub budgets: SqliteBudgets,
}

impl Stores {
    /// Opens the embedded stores in the SQLite database at `db`, beside `ledger`.
    pub fn embedded(db: &Path, ledger: Arc<dyn LedgerStore>) -> Result<Stores, StoreError> {
        Ok(Stores {
            ledger,
            credentials: Arc::new(SqliteKeys::open(db)?),
            operators: SqliteOperators::open(db)?,
            approvals: SqliteApprovals::open(db)?,
            halts: SqliteHalts::open(db)?,
            budgets: SqliteBudgets::open(db)?,
        })
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("listen", &self.config.listen)
            .field("upstreams", &self.upstreams)
            .finish_non_exhaustive()
    }
}

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The policy bundle does not load (nothing would be released, so Warden refuses to start).
    #[error("the policy bundle does not load:\n{0}")]
    Policy(String),
    /// The HTTP client could not be built.
    #[error("building the upstream client: {0}")]
    Client(String),
    /// A store could not be read.
    #[error("reading the store: {0}")]
    Store(#[from] StoreError),
}

impl Gateway {
    /// Builds the gateway: loads the bundle (recording the load in the ledger) and reads the
    /// providers' keys with `env`.
    pub async fn new(
        config: Config,
        stores: Stores,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Gateway, StartError> {
        let Stores {
            ledger,
            credentials,
            operators,
            approvals,
            halts,
            budgets,
        } = stores;
        let policy = Arc::new(PolicyHolder::new(&config.bundle));
        let load = policy.reload();
        crate::reload::record(ledger.as_ref(), &config, &load).await;
        if policy.current().is_none() {
            let error = match load {
                crate::PolicyLoad::Rejected { error, .. } => error,
                other => format!("{other:?}"),
            };
            return Err(StartError::Policy(error));
        }
        let upstreams =
            Upstreams::new(&config, env).map_err(|e| StartError::Client(e.to_string()))?;
        for (provider, var) in upstreams.missing_keys() {
            tracing::warn!(
                "provider `{provider}`: environment variable {var} is not set; requests routed to it are refused"
            );
        }
        let budgets = config
            .budgets
            .clone()
            .map(|settings| crate::budget::Budgets::new(settings, budgets, ledger.clone()));
        let streams = usize::try_from(config.limits.max_concurrent_streams).unwrap_or(usize::MAX);
        let approvals = Approvals::new(
            approvals,
            ledger.clone(),
            config.approvals.clone(),
            upstreams.client(),
        );
        #[cfg(unix)]
        let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mcp = crate::mcp::McpGateway::new(&config, upstreams.client(), &ledger.public_key());
        Ok(Gateway {
            mcp,
            #[cfg(unix)]
            hangup: std::sync::Mutex::new(hangup),
            operators,
            approvals,
            halts: Halts::load(halts)?,
            budgets,
            streams: Arc::new(Semaphore::new(streams)),
            policy,
            ledger,
            credentials,
            upstreams,
            pins: ToolPins::default(),
            config,
        })
    }
}
