//! Pins of MCP tool definitions, per server: loaded from the signed pin file (verified with the
//! ledger's public key), extended on first sight when the server's configuration allows it, and
//! moved to a new definition only by an operator (`warden mcp approve-change`). The file is
//! re-read when it changes on disk (`warden mcp pin` writes it while the gateway runs) and
//! rewritten, signed, when the gateway pins a tool itself.
//!
//! A pin file that does not verify pins nothing and refuses every tool of its server (fail
//! closed) until it is fixed.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use warden_ledger::{LedgerPublicKey, LedgerSigningKey};
use warden_mcp::{PinFile, SignedPinFile};

/// How often the pin file's modification time is checked.
const RECHECK: Duration = Duration::from_millis(500);

/// A tool's standing against its pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinStatus {
    /// The definition matches its pin.
    Pinned,
    /// Unpinned and now pinned at first sight.
    PinnedNow,
    /// The definition differs from its pin: hidden and refused until approved.
    Changed {
        /// The pinned digest.
        pinned: String,
        /// Whether this digest is reported for the first time (to be recorded once).
        first_report: bool,
    },
    /// Unpinned, and this server pins from its file only.
    Unpinned,
    /// The pin file is unusable; nothing of this server is trusted.
    Refused(String),
}

/// Why an operator's approval could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApproveError {
    /// Warden has not seen the tool (list the server's tools first).
    #[error("tool `{0}` has not been listed by this server since Warden started")]
    Unseen(String),
    /// The tool's definition already matches its pin.
    #[error("tool `{0}` already matches its pin")]
    Unchanged(String),
}

#[derive(Debug, Default)]
struct State {
    pins: BTreeMap<String, String>,
    /// Latest digest seen per tool.
    seen: BTreeMap<String, String>,
    /// (tool, digest) changes already recorded.
    reported: HashSet<(String, String)>,
    refused: Option<String>,
    modified: Option<SystemTime>,
    checked: Option<Instant>,
}

/// One server's pins.
#[derive(Debug)]
pub struct ServerPins {
    server: String,
    file: PathBuf,
    first_sight: bool,
    public: LedgerPublicKey,
    key: Option<std::sync::Arc<LedgerSigningKey>>,
    state: Mutex<State>,
}

impl ServerPins {
    /// Pins for `server` from `file`, verified with `public`; `key` signs the pins the gateway
    /// writes (without it, pins made at first sight or by approval last until restart).
    pub fn new(
        server: &str,
        file: PathBuf,
        first_sight: bool,
        public: LedgerPublicKey,
        key: Option<std::sync::Arc<LedgerSigningKey>>,
    ) -> ServerPins {
        ServerPins {
            server: server.to_owned(),
            file,
            first_sight,
            public,
            key,
            state: Mutex::new(State::default()),
        }
    }

    fn reload(&self, state: &mut State) {
        if state.checked.is_some_and(|c| c.elapsed() < RECHECK) {
            return;
        }
        state.checked = Some(Instant::now());
        let modified = std::fs::metadata(&self.file)
            .and_then(|m| m.modified())
            .ok();
        if modified == state.modified && (modified.is_some() || state.pins.is_empty()) {
            return;
        }
        state.modified = modified;
        if modified.is_none() {
            // No file: nothing pinned beyond what this process pinned itself.
            return;
        }
        let loaded = std::fs::read_to_string(&self.file)
            .map_err(|e| e.to_string())
            .and_then(|text| SignedPinFile::parse(&text).map_err(|e| e.to_string()))
            .and_then(|signed| {
                signed
                    .verify(&self.public, &self.server)
                    .map_err(|e| e.to_string())
            });
        match loaded {
            Ok(pins) => {
                state.pins = pins.tools;
                state.refused = None;
            }
            Err(e) => {
                tracing::error!(server = %self.server, file = %self.file.display(), "pin file refused: {e}");
                state.refused = Some(format!(
                    "the pin file {} is refused: {e}",
                    self.file.display()
                ));
            }
        }
    }

    /// Compares a tool's current digest with its pin, pinning it at first sight when allowed.
    pub fn observe(&self, tool: &str, digest: &str) -> PinStatus {
        let Ok(mut state) = self.state.lock() else {
            return PinStatus::Refused("the pin table is unavailable".into());
        };
        self.reload(&mut state);
        if let Some(why) = &state.refused {
            return PinStatus::Refused(why.clone());
        }
        state.seen.insert(tool.to_owned(), digest.to_owned());
        match state.pins.get(tool).cloned() {
            Some(pinned) if pinned == digest => PinStatus::Pinned,
            Some(pinned) => {
                let first_report = state.reported.insert((tool.to_owned(), digest.to_owned()));
                PinStatus::Changed {
                    pinned,
                    first_report,
                }
            }
            None if self.first_sight => {
                state.pins.insert(tool.to_owned(), digest.to_owned());
                self.write(&mut state);
                PinStatus::PinnedNow
            }
            None => PinStatus::Unpinned,
        }
    }

    /// Pins the definition last seen for `tool`; returns the previous pin and the new one.
    pub fn approve(&self, tool: &str) -> Result<(Option<String>, String), ApproveError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| ApproveError::Unseen(tool.to_owned()))?;
        self.reload(&mut state);
        let seen = state
            .seen
            .get(tool)
            .cloned()
            .ok_or_else(|| ApproveError::Unseen(tool.to_owned()))?;
        let previous = state.pins.get(tool).cloned();
        if previous.as_deref() == Some(seen.as_str()) {
            return Err(ApproveError::Unchanged(tool.to_owned()));
        }
        state.pins.insert(tool.to_owned(), seen.clone());
        self.write(&mut state);
        Ok((previous, seen))
    }

    /// Writes the pins, signed, when the gateway holds the key.
    fn write(&self, state: &mut State) {
        let Some(key) = &self.key else {
            tracing::warn!(server = %self.server, "no ledger signing key: pins are kept until restart only");
            return;
        };
        let pins = PinFile {
            server: self.server.clone(),
            tools: state.pins.clone(),
        };
        let written = pins
            .sign(key)
            .map_err(|e| e.to_string())
            .and_then(|signed| write_atomically(&self.file, &signed.to_text()));
        match written {
            Ok(()) => {
                state.modified = std::fs::metadata(&self.file)
                    .and_then(|m| m.modified())
                    .ok();
            }
            Err(e) => {
                tracing::error!(server = %self.server, file = %self.file.display(), "writing the pin file: {e}")
            }
        }
    }
}

/// Writes `text` to `path` through a temporary file and a rename, creating the directory.
pub fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("renaming to {}: {e}", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key() -> std::sync::Arc<LedgerSigningKey> {
        std::sync::Arc::new(LedgerSigningKey::from_seed(&[3; 32]))
    }

    #[test]
    fn first_sight_pins_and_a_change_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.json");
        let k = key();
        let pins = ServerPins::new("s", file.clone(), true, k.public_key(), Some(k.clone()));
        assert_eq!(pins.observe("t", "sha256:a"), PinStatus::PinnedNow);
        assert_eq!(pins.observe("t", "sha256:a"), PinStatus::Pinned);
        assert_eq!(
            pins.observe("t", "sha256:b"),
            PinStatus::Changed {
                pinned: "sha256:a".into(),
                first_report: true
            }
        );
        assert_eq!(
            pins.observe("t", "sha256:b"),
            PinStatus::Changed {
                pinned: "sha256:a".into(),
                first_report: false
            }
        );
        assert_eq!(
            pins.approve("t"),
            Ok((Some("sha256:a".into()), "sha256:b".into()))
        );
        assert_eq!(pins.observe("t", "sha256:b"), PinStatus::Pinned);
        // A fresh process reads the approved pin from the signed file.
        let again = ServerPins::new("s", file, false, k.public_key(), None);
        assert_eq!(again.observe("t", "sha256:b"), PinStatus::Pinned);
        assert_eq!(again.observe("u", "sha256:c"), PinStatus::Unpinned);
    }

    #[test]
    fn a_tampered_file_refuses_every_tool() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.json");
        let k = key();
        let signed = PinFile {
            server: "s".into(),
            tools: BTreeMap::from([("t".into(), "sha256:a".into())]),
        }
        .sign(&k)
        .unwrap();
        let tampered = signed.to_text().replace("sha256:a", "sha256:b");
        std::fs::write(&file, tampered).unwrap();
        let pins = ServerPins::new("s", file, true, k.public_key(), Some(k.clone()));
        assert!(matches!(
            pins.observe("t", "sha256:b"),
            PinStatus::Refused(_)
        ));
    }

    #[test]
    fn approving_needs_a_seen_change() {
        let dir = tempfile::tempdir().unwrap();
        let k = key();
        let pins = ServerPins::new("s", dir.path().join("p.json"), true, k.public_key(), None);
        assert_eq!(pins.approve("t"), Err(ApproveError::Unseen("t".into())));
        pins.observe("t", "sha256:a");
        assert_eq!(pins.approve("t"), Err(ApproveError::Unchanged("t".into())));
    }
}
