//! A gateway served in-process for tests: the scripted mock provider upstream, a real SQLite
//! ledger and key store in a temporary directory, both listeners on loopback ports.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use warden_gateway::{Config, Gateway, Stores};
use warden_ledger::Event;
use warden_store::{
    Durability, LedgerConfig, LedgerReader, LedgerStore, SqliteKeys, SqliteLedger, SqliteReader,
    SystemClock,
};

/// What a test gateway runs with.
pub struct Setup<'a> {
    /// The policy bundle (one file).
    pub bundle: &'a str,
    /// The mock provider's script (its key must be `upstream-key`).
    pub script: &'a str,
    /// Extra top-level configuration YAML (`approvals: …`).
    pub extra_config: &'a str,
    /// Extra YAML inside the `bot` agent's flow mapping (`owners: [erin]`).
    pub agent: &'a str,
}

/// A running gateway.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub admin: String,
    pub key: String,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub fn write_bundle(dir: &Path, text: &str) {
    std::fs::create_dir_all(dir.join("bundle")).unwrap();
    std::fs::write(dir.join("bundle/rules.yaml"), text).unwrap();
}

/// The ledger as `warden serve` opens it by default (`process` durability), except that the
/// writer thread's timed wake-up, which also commits whatever is queued, comes only once a
/// minute: a record committed in a test was committed by the request that needed it.
fn open_ledger(dir: &Path) -> SqliteLedger {
    let key = warden_store::generate_signing_key().unwrap();
    SqliteLedger::create(
        &dir.join("warden.db"),
        key,
        LedgerConfig {
            durability: Durability::Process,
            checkpoint_interval_ms: 60_000,
            ..LedgerConfig::default()
        },
        Box::new(SystemClock),
    )
    .unwrap()
}

impl Harness {
    pub async fn start(
        setup: Setup<'_>,
        wrap: impl FnOnce(SqliteLedger) -> Arc<dyn LedgerStore>,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        write_bundle(dir.path(), setup.bundle);
        let mock = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mock_url = format!("http://{}", mock.local_addr().unwrap());
        let script = warden_mock_provider::Script::from_yaml(setup.script).unwrap();
        tokio::spawn(warden_mock_provider::serve_with(
            mock,
            warden_mock_provider::MockConfig::new(script),
        ));
        let config = Config::parse(
            "warden.yaml",
            &format!(
                "listen: {{ agents: \"127.0.0.1:0\", admin: \"127.0.0.1:0\" }}\n\
                 data_dir: .\n\
                 policy: {{ bundle: bundle }}\n\
                 providers:\n  mock: {{ kind: openai, base_url: \"{mock_url}\", api_key_env: UPSTREAM_KEY }}\n\
                 agents:\n  bot: {{ tenant: acme {} }}\n{}",
                setup.agent, setup.extra_config
            ),
            dir.path(),
        )
        .unwrap();
        let ledger = wrap(open_ledger(dir.path()));
        let db = dir.path().join("warden.db");
        let key = SqliteKeys::open(&db)
            .unwrap()
            .create("bot", 1)
            .unwrap()
            .secret;
        let stores = Stores::embedded(&db, ledger).unwrap();
        let gateway = Gateway::new(config, stores, |var| {
            (var == "UPSTREAM_KEY").then(|| "upstream-key".to_owned())
        })
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let admin_base = format!("http://{}/v1", admin.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(warden_gateway::serve(
            Arc::new(gateway),
            listener,
            Some(admin),
            async move {
                let _ = stopped.await;
            },
        ));
        Harness {
            dir,
            base,
            admin: admin_base,
            key,
            http: reqwest::Client::new(),
            stop: Some(stop),
            server: Some(server),
        }
    }

    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("warden.db")
    }

    pub async fn chat(&self, text: &str) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/chat/completions", self.base))
            .bearer_auth(&self.key)
            .header("content-type", "application/json")
            .body(
                json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]})
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
        )
    }

    /// Every ledger record's event committed so far, read from another connection.
    pub fn events(&self) -> Vec<Event> {
        let reader = SqliteReader::open(&self.db()).unwrap();
        let mut events = Vec::new();
        for seq in 0..reader.len().unwrap() {
            let record = reader.record_by_seq(seq).unwrap().unwrap();
            let body: warden_ledger::Record = serde_json::from_str(&record.body).unwrap();
            events.push(body.event);
        }
        events
    }

    /// Stops the server and returns every ledger record's event.
    pub async fn stop(mut self) -> Vec<Event> {
        let _ = self.stop.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap().unwrap();
        self.events()
    }
}

/// The tool calls delivered in a chat completion.
pub fn delivered_calls(body: &Value) -> usize {
    body["choices"][0]["message"]["tool_calls"]
        .as_array()
        .map_or(0, Vec::len)
}
