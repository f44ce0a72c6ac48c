//! `warden.yaml`: raw serde types exactly as written, converted into a validated [`Config`].
//!
//! Unknown fields are errors; every error names the file, the line and the field. Paths in the
//! file are relative to the file's directory. Provider keys are never in the file: each provider
//! names the environment variable holding its key, read when the gateway starts.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};
use warden_policy::{Diagnostic, parse_duration_ms};

mod approvals;
mod authzen;
mod budgets;
mod egress;
mod mcp;

pub use approvals::{ApprovalSettings, RawApprovals, RawWebhook, Webhook, WebhookFormat};
pub use authzen::{AuthzenSettings, RawAuthzen};
pub use budgets::{BudgetSettings, ConfiguredLimit, RawBudgets, RawLimit, RawPrice, Unpriced};
pub use egress::{EgressSettings, RawEgress};
pub use mcp::{McpServer, McpSettings, McpTransport, RawMcp, RawMcpServer, RawPinMode};

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where agents connect (LLM API, MCP).
    pub listen: SocketAddr,
    /// Where operators connect (admin API); never the agents' listener.
    pub admin_listen: SocketAddr,
    /// Directory of `warden.db` and the ledger signing key.
    pub data_dir: PathBuf,
    /// The policy bundle directory.
    pub bundle: PathBuf,
    /// Reload the bundle when its files change (and on SIGHUP).
    pub reload: bool,
    /// Upstream providers by name.
    pub providers: BTreeMap<String, Provider>,
    /// Known agents by id.
    pub agents: BTreeMap<String, AgentConfig>,
    /// Request and stream limits.
    pub limits: Limits,
    /// Ledger checkpoint cadence.
    pub ledger: LedgerSettings,
    /// Human approval of held calls.
    pub approvals: ApprovalSettings,
    /// Who may ask for decisions through the AuthZEN API.
    pub authzen: AuthzenSettings,
    /// The egress proxy, when configured.
    pub egress: Option<EgressSettings>,
    /// The MCP gateway's upstream servers.
    pub mcp: McpSettings,
    /// Budgets; `None` when the section is absent (budgets off).
    pub budgets: Option<BudgetSettings>,
}

/// An upstream LLM provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    /// Which API it speaks.
    pub kind: ProviderKind,
    /// Base URL, without the `/v1/...` path.
    pub base_url: String,
    /// The environment variable holding its API key.
    pub api_key_env: String,
    /// Models routed to it (`*` patterns); empty routes every model of its API.
    pub models: Vec<String>,
}

/// The API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI Chat Completions and Responses.
    Openai,
    /// Anthropic Messages.
    Anthropic,
}

/// An agent Warden knows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentConfig {
    /// Tenant.
    pub tenant: String,
    /// Team.
    pub team: String,
    /// Labels policies read (`env: production`).
    pub labels: BTreeMap<String, String>,
    /// Home directory, for `~` in paths.
    pub home: Option<String>,
    /// Operators responsible for this agent; they may not approve its requests.
    pub owners: Vec<String>,
}

/// Limits that keep memory bounded whatever agents and upstreams send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body accepted.
    pub max_body_bytes: u64,
    /// Largest tool-call arguments accepted from a model.
    pub max_tool_args_bytes: u64,
    /// Most streams open at once.
    pub max_concurrent_streams: u32,
    /// Upstream time limit, in milliseconds.
    pub upstream_timeout_ms: u64,
}

/// Ledger checkpoint cadence and durability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerSettings {
    /// Sign a checkpoint every N records…
    pub checkpoint_every: u64,
    /// …or every T milliseconds.
    pub checkpoint_interval_ms: u64,
    /// What a decision record survives before the action is released.
    pub durability: LedgerDurability,
}

/// What a decision record survives before the action it decides is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerDurability {
    /// The gateway crashing or being killed (`kill -9`): records reach the operating system
    /// before release. The default.
    #[default]
    Process,
    /// Also power loss: records are flushed to disk before release (one disk flush per group
    /// commit on the release path).
    PowerLoss,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid: every problem, located.
    #[error("{}", render(.0))]
    Invalid(Vec<ConfigProblem>),
}

/// One located problem in a configuration file (the same shape as a policy file's).
pub type ConfigProblem = Diagnostic;

fn render(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// Raw types: the file as written.

/// `warden.yaml` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Warden configuration")]
pub struct RawConfig {
    /// Listener addresses.
    #[serde(default)]
    pub listen: RawListen,
    /// Directory of `warden.db` and the ledger signing key (default `./warden-data`).
    #[schemars(with = "Option<String>")]
    pub data_dir: Option<Spanned<String>>,
    /// The policy bundle.
    #[schemars(with = "RawPolicy")]
    pub policy: Spanned<RawPolicy>,
    /// Upstream providers by name.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawProvider>")]
    pub providers: BTreeMap<String, Spanned<RawProvider>>,
    /// Agents by id.
    #[serde(default)]
    pub agents: BTreeMap<String, RawAgent>,
    /// Request and stream limits.
    #[serde(default)]
    #[schemars(with = "RawLimits")]
    pub limits: Option<Spanned<RawLimits>>,
    /// Ledger checkpoint cadence.
    #[serde(default)]
    #[schemars(with = "RawLedger")]
    pub ledger: Option<Spanned<RawLedger>>,
    /// Human approval of held calls.
    #[serde(default)]
    #[schemars(with = "RawApprovals")]
    pub approvals: Option<Spanned<RawApprovals>>,
    /// The AuthZEN decision API's clients.
    #[serde(default)]
    #[schemars(with = "Option<RawAuthzen>")]
    pub authzen: Option<Spanned<RawAuthzen>>,
    /// The egress proxy (absent: no egress proxy).
    #[serde(default)]
    #[schemars(with = "Option<RawEgress>")]
    pub egress: Option<Spanned<RawEgress>>,
    /// MCP servers agents reach through `/mcp/{server}`.
    #[schemars(with = "RawMcp")]
    pub mcp: Option<Spanned<RawMcp>>,
    /// Budgets: limits, prices, reservations. Absent: budgets are off.
    #[schemars(with = "Option<RawBudgets>")]
    pub budgets: Option<Spanned<RawBudgets>>,
}

/// Listener addresses.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawListen {
    /// Agents' listener (default `127.0.0.1:8080`).
    #[schemars(with = "Option<String>")]
    pub agents: Option<Spanned<String>>,
    /// Operators' listener (default `127.0.0.1:8081`).
    #[schemars(with = "Option<String>")]
    pub admin: Option<Spanned<String>>,
}

/// The policy bundle.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// The bundle directory, relative to this file.
    pub bundle: String,
    /// Reload on file change and SIGHUP (default true).
    pub reload: Option<bool>,
}

/// An upstream provider.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// `openai` or `anthropic`.
    pub kind: ProviderKind,
    /// Base URL (`https://api.openai.com`).
    pub base_url: String,
    /// Environment variable holding the API key.
    pub api_key_env: String,
    /// Models routed to this provider (`*` patterns).
    #[serde(default)]
    pub models: Vec<String>,
}

/// An agent.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    /// Tenant.
    #[serde(default)]
    pub tenant: String,
    /// Team.
    #[serde(default)]
    pub team: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Home directory.
    pub home: Option<String>,
    /// Operators responsible for this agent (they may not approve its requests).
    #[serde(default)]
    pub owners: Vec<String>,
}

/// Limits.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Largest request body (`8MiB`).
    pub max_body: Option<String>,
    /// Largest tool-call arguments (`1MiB`).
    pub max_tool_args: Option<String>,
    /// Most concurrent streams.
    pub max_concurrent_streams: Option<u32>,
    /// Upstream time limit (`120s`).
    pub upstream_timeout: Option<String>,
}

/// Ledger cadence.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLedger {
    /// Sign a checkpoint every N records.
    pub checkpoint_every: Option<u64>,
    /// Or every interval (`1s`).
    pub checkpoint_interval: Option<String>,
    /// `process` (default: records survive the gateway being killed) or `power_loss` (they are
    /// flushed to disk before release).
    pub durability: Option<LedgerDurability>,
}

/// The JSON Schema of `warden.yaml`.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RawConfig)).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Loading and validation.

/// Largest configuration file accepted.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

impl Config {
    /// Reads and validates the configuration at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let read = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > MAX_CONFIG_BYTES {
            return Err(ConfigError::Invalid(vec![ConfigProblem {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                field: String::new(),
                message: format!("file is {size} bytes; the limit is {MAX_CONFIG_BYTES}"),
            }]));
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&path.display().to_string(), &text, base)
    }

    /// Validates configuration text; `base` is the directory relative paths start from.
    pub fn parse(file: &str, text: &str, base: &Path) -> Result<Config, ConfigError> {
        let mut v = Validator {
            file,
            problems: Vec::new(),
        };
        let raw: RawConfig = match serde_saphyr::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                let message = e.without_snippet().to_string();
                v.problems.push(ConfigProblem {
                    file: file.to_owned(),
                    line,
                    column,
                    field: String::new(),
                    message: message.lines().next().unwrap_or("invalid YAML").to_owned(),
                });
                return Err(ConfigError::Invalid(v.problems));
            }
        };
        let config = v.convert(raw, base);
        if v.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid(v.problems))
        }
    }
}

struct Validator<'a> {
    file: &'a str,
    problems: Vec<ConfigProblem>,
}

impl Validator<'_> {
    fn problem(&mut self, at: Location, field: &str, message: String) {
        self.problems.push(ConfigProblem {
            file: self.file.to_owned(),
            line: at.line(),
            column: at.column(),
            field: field.to_owned(),
            message,
        });
    }

    fn convert(&mut self, raw: RawConfig, base: &Path) -> Config {
        let listen = self.addr(
            raw.listen.agents.as_ref(),
            "listen.agents",
            "127.0.0.1:8080",
        );
        let admin_listen = self.addr(raw.listen.admin.as_ref(), "listen.admin", "127.0.0.1:8081");
        if listen == admin_listen && listen.port() != 0 {
            let at = raw
                .listen
                .admin
                .as_ref()
                .map_or(raw.policy.referenced, |s| s.referenced);
            self.problem(
                at,
                "listen.admin",
                "the admin listener must differ from the agents' listener".into(),
            );
        }
        let data_dir = base.join(raw.data_dir.map_or("warden-data".into(), |d| d.value));
        let bundle_text = raw.policy.value.bundle.trim();
        if bundle_text.is_empty() {
            self.problem(
                raw.policy.referenced,
                "policy.bundle",
                "must name a directory".into(),
            );
        }
        let bundle = base.join(bundle_text);

        let mut providers = BTreeMap::new();
        for (name, p) in raw.providers {
            let field = |f: &str| format!("providers.{name}.{f}");
            let at = p.referenced;
            let p = p.value;
            let url_ok = p.base_url.starts_with("http://") || p.base_url.starts_with("https://");
            if !url_ok {
                self.problem(
                    at,
                    &field("base_url"),
                    format!("`{}` is not an http(s) URL", p.base_url),
                );
            }
            let env_ok = !p.api_key_env.is_empty()
                && p.api_key_env
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !env_ok {
                self.problem(
                    at,
                    &field("api_key_env"),
                    "must be the name of an environment variable (the key itself never goes in this file)".into(),
                );
            }
            providers.insert(
                name,
                Provider {
                    kind: p.kind,
                    base_url: p.base_url.trim_end_matches('/').to_owned(),
                    api_key_env: p.api_key_env,
                    models: p.models,
                },
            );
        }
        let mut kinds = HashSet::new();
        for p in providers.values() {
            if p.models.is_empty() && !kinds.insert(p.kind) {
                self.problem(
                    raw.policy.referenced,
                    "providers",
                    "two providers of one API both take every model; give each a `models` list"
                        .into(),
                );
            }
        }

        let agents = raw
            .agents
            .into_iter()
            .map(|(id, a)| {
                (
                    id,
                    AgentConfig {
                        tenant: a.tenant,
                        team: a.team,
                        labels: a.labels,
                        home: a.home,
                        owners: a.owners,
                    },
                )
            })
            .collect();

        let limits = self.limits(raw.limits.as_ref());
        let ledger = self.ledger(raw.ledger.as_ref());
        let approvals = self.approvals(raw.approvals.as_ref());
        let authzen = self.authzen(raw.authzen.as_ref(), &agents);
        let egress = self.egress(raw.egress.as_ref());
        let mcp = self.mcp(raw.mcp.as_ref(), base, &data_dir);
        let budgets = self.budgets(raw.budgets.as_ref());
        Config {
            listen,
            admin_listen,
            data_dir,
            bundle,
            reload: raw.policy.value.reload.unwrap_or(true),
            providers,
            agents,
            limits,
            ledger,
            approvals,
            authzen,
            egress,
            mcp,
            budgets,
        }
    }

    fn addr(&mut self, raw: Option<&Spanned<String>>, field: &str, default: &str) -> SocketAddr {
        let fallback: SocketAddr = default
            .parse()
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
        let Some(raw) = raw else {
            return fallback;
        };
        raw.value.parse().unwrap_or_else(|_| {
            self.problem(
                raw.referenced,
                field,
                format!("`{}` is not an address (e.g. 127.0.0.1:8080)", raw.value),
            );
            fallback
        })
    }

    fn limits(&mut self, raw: Option<&Spanned<RawLimits>>) -> Limits {
        let mut out = Limits {
            max_body_bytes: 8 << 20,
            max_tool_args_bytes: 1 << 20,
            max_concurrent_streams: 1024,
            upstream_timeout_ms: 120_000,
        };
        let Some(raw) = raw else {
            return out;
        };
        let at = raw.referenced;
        let r = &raw.value;
        if let Some(s) = &r.max_body {
            match parse_size(s) {
                Ok(n) if n > 0 => out.max_body_bytes = n,
                _ => self.problem(
                    at,
                    "limits.max_body",
                    format!("`{s}` is not a size (e.g. 8MiB)"),
                ),
            }
        }
        if let Some(s) = &r.max_tool_args {
            match parse_size(s) {
                Ok(n) if n > 0 => out.max_tool_args_bytes = n,
                _ => self.problem(
                    at,
                    "limits.max_tool_args",
                    format!("`{s}` is not a size (e.g. 1MiB)"),
                ),
            }
        }
        match r.max_concurrent_streams {
            Some(0) => self.problem(
                at,
                "limits.max_concurrent_streams",
                "must be at least 1".into(),
            ),
            Some(n) => out.max_concurrent_streams = n,
            None => {}
        }
        if let Some(s) = &r.upstream_timeout {
            match parse_duration_ms(s) {
                Ok(ms) if ms > 0 => out.upstream_timeout_ms = ms,
                _ => self.problem(
                    at,
                    "limits.upstream_timeout",
                    format!("`{s}` is not a duration (e.g. 120s)"),
                ),
            }
        }
        out
    }

    fn ledger(&mut self, raw: Option<&Spanned<RawLedger>>) -> LedgerSettings {
        let mut out = LedgerSettings {
            checkpoint_every: 1000,
            checkpoint_interval_ms: 1000,
            durability: LedgerDurability::default(),
        };
        let Some(raw) = raw else {
            return out;
        };
        if let Some(d) = raw.value.durability {
            out.durability = d;
        }
        match raw.value.checkpoint_every {
            Some(0) => self.problem(
                raw.referenced,
                "ledger.checkpoint_every",
                "must be at least 1".into(),
            ),
            Some(n) => out.checkpoint_every = n,
            None => {}
        }
        if let Some(s) = &raw.value.checkpoint_interval {
            match parse_duration_ms(s) {
                Ok(ms) if ms > 0 => out.checkpoint_interval_ms = ms,
                _ => self.problem(
                    raw.referenced,
                    "ledger.checkpoint_interval",
                    format!("`{s}` is not a duration (e.g. 1s)"),
                ),
            }
        }
        out
    }
}

/// Parses `512`, `64KiB`, `8MiB`, `1GiB` (also `KB`, `MB`, `GB` as powers of 1000).
fn parse_size(text: &str) -> Result<u64, ()> {
    let t = text.trim();
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    let (number, unit) = t.split_at(digits);
    let n: u64 = number.parse().map_err(|_| ())?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(()),
    };
    n.checked_mul(scale).ok_or(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("2KB"), Ok(2000));
        assert!(parse_size("8 mb").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }
}
