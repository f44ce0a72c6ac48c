//! `warden quickstart`: the main job on embedded defaults, in one command.
//!
//! In a fresh directory it starts the scripted mock provider and the gateway (the real ones,
//! on loopback ports), creates an agent key, and plays an agent that speaks the OpenAI Chat
//! Completions API through Warden: one tool call allowed, one denied, one remediated, and one held
//! for a human, whom the quickstart plays too, approving it through the admin API. It then stops
//! the gateway, runs `warden ledger verify` on the ledger it wrote, and prints where everything
//! is.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use warden_gateway::{Config, Gateway, Stores};
use warden_ledger::LedgerPublicKey;
use warden_store::{LedgerConfig, LedgerStore, SqliteKeys};

/// The scripted model's replies.
const MOCK_SCRIPT: &str = include_str!("../../../examples/quickstart/mock-provider.yaml");
/// The environment variable the quickstart's configuration names for the provider key.
const PROVIDER_KEY_ENV: &str = "WARDEN_QUICKSTART_PROVIDER_KEY";
const AGENT: &str = "quickstart-bot";
/// The operator the quickstart plays when a call needs approval.
const APPROVER: &str = "oncall-lead";
/// Every run's total budget in the quickstart (enough for one answer of gpt-4o-mini, cut short).
const RUN_BUDGET_USD: &str = "0.0001";
/// The run the quickstart's budget step belongs to.
const RUN_ID: &str = "quickstart-run-1";

/// Arguments of `warden quickstart`.
#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    /// The policy bundle the gateway enforces.
    #[arg(long, default_value = "policies/baseline")]
    bundle: PathBuf,
    /// Directory to work in (created; must be empty or absent). Default: a new temporary one.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Runs `warden quickstart`.
pub fn run(args: QuickstartArgs) -> Result<ExitCode> {
    let bundle = std::fs::canonicalize(&args.bundle).with_context(|| {
        format!(
            "policy bundle {} not found (run from the repository root or pass --bundle)",
            args.bundle.display()
        )
    })?;
    let dir = workdir(args.dir)?;
    let data = dir.join("data");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let public_key = runtime.block_on(conversation(&dir, &bundle))?;
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));

    heading("The ledger, verified offline: chain, checkpoints, signatures");
    let exe = std::env::current_exe().context("locating the warden binary")?;
    let status = std::process::Command::new(&exe)
        .args(["ledger", "verify", "--data-dir"])
        .arg(&data)
        .status()
        .context("running warden ledger verify")?;
    if !status.success() {
        bail!("the ledger did not verify");
    }
    heading("Where everything is");
    let w = exe.display();
    println!("  working directory   {}", dir.display());
    println!(
        "  gateway config      {}",
        dir.join("warden.yaml").display()
    );
    println!("  ledger and keys     {}", data.display());
    println!("  ledger public key   {}", public_key.key_id());
    println!();
    println!("  {w} ledger tail --data-dir {}", data.display());
    println!("  {w} ledger verify --data-dir {}", data.display());
    println!(
        "  {w} serve --config {}   # the same gateway, to try with your own SDK",
        dir.join("warden.yaml").display()
    );
    Ok(ExitCode::SUCCESS)
}

fn workdir(dir: Option<PathBuf>) -> Result<PathBuf> {
    let dir = match dir {
        Some(d) => d,
        None => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            std::env::temp_dir().join(format!("warden-quickstart-{}-{stamp}", std::process::id()))
        }
    };
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!("{} is not empty", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(std::fs::canonicalize(&dir)?)
}

fn heading(text: &str) {
    println!("\n\x1b[1m==> {text}\x1b[0m");
    let _ = std::io::stdout().flush();
}

/// Starts both servers, plays the agent, stops them; returns the ledger's public key.
async fn conversation(dir: &Path, bundle: &Path) -> Result<LedgerPublicKey> {
    heading("Starting the scripted model provider and the Warden gateway");
    let script = warden_mock_provider::Script::from_yaml(MOCK_SCRIPT)?;
    let provider_key = script.api_key().unwrap_or_default().to_owned();
    let mock = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mock_url = format!("http://{}", mock.local_addr()?);
    tokio::spawn(warden_mock_provider::serve_with(
        mock,
        warden_mock_provider::MockConfig::new(script),
    ));

    let config_path = dir.join("warden.yaml");
    std::fs::write(&config_path, config_text(bundle, &mock_url))?;
    let config = Config::load(&config_path)?;
    let data = config.data_dir.clone();
    let ledger = Arc::new(crate::ledger_cmd::open_or_create(
        &data,
        LedgerConfig::default(),
        "warden quickstart",
    )?);
    let public_key = ledger.public_key();
    let db = data.join("warden.db");
    let keys = SqliteKeys::open(&db)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    let agent_key = keys.create(AGENT, now)?.secret;
    let approver_token = warden_store::SqliteOperators::open(&db)?
        .create(
            APPROVER,
            warden_store::Role::Approver,
            &["security-team".to_owned()],
            now,
        )?
        .secret;
    let ledger_dyn: Arc<dyn LedgerStore> = ledger.clone();
    let stores = Stores::embedded(&db, ledger_dyn)?;
    let gateway = Gateway::new(config, stores, |var| {
        (var == PROVIDER_KEY_ENV).then(|| provider_key.clone())
    })
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/v1", listener.local_addr()?);
    let admin_base = format!("http://{}/v1", admin.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(warden_gateway::serve(
        Arc::new(gateway),
        listener,
        Some(admin),
        async move {
            let _ = stopped.await;
        },
    ));
    println!("  admin API (operators)      {admin_base}");
    println!("  model provider (scripted)  {mock_url}");
    println!("  Warden gateway             {base}   (the agent's base_url)");
    println!(
        "  agent `{AGENT}` key       {}…   (stored hashed)",
        agent_key.get(..16).unwrap_or("")
    );

    let agent = Agent {
        http: reqwest::Client::new(),
        base,
        admin: admin_base,
        key: agent_key,
        approver_token,
        public_key,
    };
    let played = agent.play().await;
    let _ = stop.send(());
    let _ = server.await;
    played?;
    Ok(public_key)
}

fn config_text(bundle: &Path, mock_url: &str) -> String {
    format!(
        "# Written by `warden quickstart`.\n\
         listen: {{ agents: \"127.0.0.1:0\", admin: \"127.0.0.1:0\" }}\n\
         data_dir: ./data\n\
         policy: {{ bundle: \"{}\" }}\n\
         providers:\n  scripted:\n    kind: openai\n    base_url: \"{mock_url}\"\n    api_key_env: {PROVIDER_KEY_ENV}\n\
         agents:\n  {AGENT}: {{ tenant: demo, team: quickstart, labels: {{ env: production }} }}\n\
         approvals: {{ wait: 60s, keepalive: 5s }}\n\
         budgets:\n  limits:\n    - {{ scope: run, window: total, usd: {RUN_BUDGET_USD} }}\n",
        bundle.display()
    )
}

/// The scripted agent: an OpenAI Chat Completions client pointed at Warden.
struct Agent {
    http: reqwest::Client,
    base: String,
    admin: String,
    key: String,
    approver_token: String,
    public_key: LedgerPublicKey,
}

impl Agent {
    async fn play(&self) -> Result<()> {
        heading("1. \"Please list the logs\": an ordinary command, allowed");
        let (message, _) = self.turn(&[user("Please list the logs.")]).await?;
        let calls = message
            .get("tool_calls")
            .unwrap_or(&Value::Null)
            .as_array()
            .cloned()
            .unwrap_or_default();
        let Some(call) = calls.first() else {
            bail!("the allowed tool call was not delivered: {message}");
        };
        println!("  the agent runs it and returns the result; the model answers:");
        let history = [
            user("Please list the logs."),
            message.clone(),
            json!({"role": "tool", "tool_call_id": call.get("id"), "content": "syslog  auth.log  kern.log"}),
        ];
        let (answer, _) = self.turn(&history).await?;
        println!(
            "  \"{}\"",
            answer
                .get("content")
                .unwrap_or(&Value::Null)
                .as_str()
                .unwrap_or_default()
        );

        heading("2. \"Please clean up the disk\": a destructive command, denied");
        let (message, _) = self.turn(&[user("Please clean up the disk.")]).await?;
        if message.get("tool_calls").is_some_and(|c| !c.is_null()) {
            bail!("a denied tool call reached the agent: {message}");
        }

        heading("3. \"Please list the customers\": an unbounded query, remediated");
        let (message, _) = self.turn(&[user("Please list the customers.")]).await?;
        if !message.to_string().contains("LIMIT 1000") {
            bail!("the remediated call was not rewritten: {message}");
        }

        heading("4. \"Please upgrade customer 42\": a production write, held for a human");
        let ask = [user("Please upgrade customer 42 to the pro plan.")];
        let turn = self.turn(&ask);
        let approve = self.approve_when_asked();
        let (held, approved) = tokio::join!(turn, approve);
        approved?;
        let (message, _) = held?;
        if !message.to_string().contains("UPDATE customers") {
            bail!("the approved call was not released: {message}");
        }

        heading("5. A run with a $0.0001 budget: answered within it, then refused with HTTP 402");
        let (status, first) = self
            .budgeted_turn("Please summarize the incident report.")
            .await?;
        if !status.is_success() {
            bail!("the first call of the run was refused: {first}");
        }
        println!(
            "  answered; finish_reason `{}` (max_tokens was set to what the budget pays for), {} output tokens",
            first
                .pointer("/choices/0/finish_reason")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            first
                .pointer("/usage/completion_tokens")
                .and_then(Value::as_u64)
                .unwrap_or_default()
        );
        let (status, second) = self.budgeted_turn("Please summarize it again.").await?;
        if status.as_u16() != 402 {
            bail!("the run's second call was not refused for its budget: {status} {second}");
        }
        println!(
            "  HTTP 402: {}",
            second
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or_default()
        );
        Ok(())
    }

    /// One chat completion in the budgeted run; the status and the body, whatever they are.
    async fn budgeted_turn(&self, text: &str) -> Result<(reqwest::StatusCode, Value)> {
        let response = self
            .http
            .post(format!("{}/chat/completions", self.base))
            .bearer_auth(&self.key)
            .header("Warden-Run-Id", RUN_ID)
            .json(&json!({"model": "gpt-4o-mini", "messages": [user(text)]}))
            .send()
            .await
            .context("calling the gateway")?;
        let status = response.status();
        let value = response
            .json()
            .await
            .context("reading the gateway's answer")?;
        Ok((status, value))
    }

    /// Plays the on-call approver: waits for the request to appear on the admin API, then
    /// approves it.
    async fn approve_when_asked(&self) -> Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let request = loop {
            let listed: Value = self
                .http
                .get(format!("{}/approvals", self.admin))
                .bearer_auth(&self.approver_token)
                .send()
                .await?
                .json()
                .await?;
            if let Some(first) = listed.pointer("/approvals/0") {
                break first.clone();
            }
            if std::time::Instant::now() > deadline {
                bail!("no approval request appeared");
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let id = request
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let rule = request
            .pointer("/rules/0")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let groups: Vec<&str> = request
            .get("approvers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        println!(
            "  held for approval: {id} (rule {rule}; approvers: {})",
            groups.join(" or ")
        );
        println!(
            "  the agent's response waits; {APPROVER} (security-team) approves it through the admin API"
        );
        let response = self
            .http
            .post(format!("{}/approvals/{id}/approve", self.admin))
            .bearer_auth(&self.approver_token)
            .json(&json!({"reason": "customer asked for the upgrade"}))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("approving failed: {}", response.text().await?);
        }
        Ok(())
    }

    /// One chat completion; prints what the agent received and the decisions' receipts.
    async fn turn(&self, messages: &[Value]) -> Result<(Value, Vec<String>)> {
        let body = json!({"model": "gpt-4o-mini", "messages": messages});
        let response = self
            .http
            .post(format!("{}/chat/completions", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .context("calling the gateway")?;
        let status = response.status();
        let receipts: Vec<String> = response
            .headers()
            .get_all("warden-receipt")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let bytes = response.bytes().await?;
        let value: Value =
            serde_json::from_slice(&bytes).context("reading the gateway's answer")?;
        if !status.is_success() {
            bail!("the gateway answered {status}: {value}");
        }
        let message = value
            .pointer("/choices/0/message")
            .cloned()
            .unwrap_or(Value::Null);
        for call in message
            .get("tool_calls")
            .unwrap_or(&Value::Null)
            .as_array()
            .into_iter()
            .flatten()
        {
            println!(
                "  delivered to the agent: {}({})",
                call.pointer("/function/name")
                    .unwrap_or(&Value::Null)
                    .as_str()
                    .unwrap_or_default(),
                call.pointer("/function/arguments")
                    .unwrap_or(&Value::Null)
                    .as_str()
                    .unwrap_or_default()
            );
        }
        if let Some(text) = message
            .get("content")
            .unwrap_or(&Value::Null)
            .as_str()
            .filter(|_| messages.len() == 1)
        {
            println!("  assistant text the agent received:\n    {text}");
        }
        // The first receipt is the request's decision, then one per tool call.
        for (i, receipt) in receipts.iter().enumerate() {
            let claims = warden_ledger::verify_receipt(receipt, &self.public_key)
                .context("a receipt did not verify")?;
            let outcome = claims.outcome.map_or("-", |o| o.as_str());
            let what = if i == 0 { "request  " } else { "tool call" };
            println!(
                "  receipt, {what} {outcome:<9} {} (signature verified)",
                claims.rid
            );
        }
        Ok((message, receipts))
    }
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}
