//! The bundle in force, swapped atomically on reload; a bundle that fails to load leaves the last
//! good one in force.
//!
//! Each reload yields a [`PolicyLoad`] event that the caller records in the ledger.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use warden_policy::Bundle;

use crate::policy_source;

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyLoad {
    /// A new bundle is in force.
    Loaded {
        /// Its digest.
        digest: String,
        /// The digest it replaced (`None` at start).
        previous: Option<String>,
    },
    /// The files changed but their meaning did not (same digest); nothing was swapped.
    Unchanged {
        /// The digest in force.
        digest: String,
    },
    /// The new files do not load; the previous bundle stays in force.
    Rejected {
        /// Every problem, one per line.
        error: String,
        /// The digest still in force (`None` if nothing ever loaded).
        in_force: Option<String>,
    },
}

/// Holds the bundle in force for one directory.
#[derive(Debug)]
pub struct PolicyHolder {
    dir: PathBuf,
    current: RwLock<Option<Arc<Bundle>>>,
    fingerprint: RwLock<Option<String>>,
}

impl PolicyHolder {
    /// A holder for the bundle at `dir`, with nothing loaded yet.
    pub fn new(dir: &Path) -> PolicyHolder {
        PolicyHolder {
            dir: dir.to_owned(),
            current: RwLock::new(None),
            fingerprint: RwLock::new(None),
        }
    }

    /// The bundle in force, if any loaded. Cheap: one lock read and an `Arc` clone.
    pub fn current(&self) -> Option<Arc<Bundle>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// Reloads when the directory's fingerprint changed since the last load; `None` when it did
    /// not (the cheap check a file watcher polls).
    pub fn reload_if_changed(&self) -> Option<PolicyLoad> {
        let now = policy_source::fingerprint(&self.dir).ok();
        let before = self.fingerprint.read().ok().and_then(|f| f.clone());
        if now.is_some() && now == before {
            return None;
        }
        Some(self.reload())
    }

    /// Loads the bundle from disk; on failure the bundle in force stays.
    pub fn reload(&self) -> PolicyLoad {
        let fingerprint = policy_source::fingerprint(&self.dir).ok();
        let previous = self.current().map(|b| b.digest().to_owned());
        let loaded = policy_source::policy_files(&self.dir)
            .map_err(|e| e.to_string())
            .and_then(|files| Bundle::load(&files).map_err(|e| e.to_string()));
        if let Ok(mut f) = self.fingerprint.write() {
            *f = fingerprint;
        }
        match loaded {
            Err(error) => PolicyLoad::Rejected {
                error,
                in_force: previous,
            },
            Ok(bundle) if Some(bundle.digest()) == previous.as_deref() => PolicyLoad::Unchanged {
                digest: bundle.digest().to_owned(),
            },
            Ok(bundle) => {
                let digest = bundle.digest().to_owned();
                if let Ok(mut c) = self.current.write() {
                    *c = Some(Arc::new(bundle));
                }
                PolicyLoad::Loaded { digest, previous }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn bad_bundle_keeps_the_last_good_one() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "p.yaml", "rules: []\ndefault: allow\n");
        let holder = PolicyHolder::new(dir.path());
        assert!(holder.current().is_none());
        let PolicyLoad::Loaded {
            digest,
            previous: None,
        } = holder.reload()
        else {
            panic!("first load failed");
        };
        assert_eq!(holder.current().unwrap().digest(), digest);
        assert_eq!(holder.reload_if_changed(), None);

        write(
            dir.path(),
            "p.yaml",
            "rules: [{id: x, when: 'bogus', decision: deny}]\n",
        );
        let PolicyLoad::Rejected { error, in_force } = holder.reload() else {
            panic!("a bad bundle loaded");
        };
        assert!(error.contains("unknown name `bogus`"), "{error}");
        assert_eq!(in_force.as_deref(), Some(digest.as_str()));
        assert_eq!(holder.current().unwrap().digest(), digest);

        write(
            dir.path(),
            "p.yaml",
            "# reformatted\nrules: []\ndefault:   allow\n",
        );
        assert!(matches!(holder.reload(), PolicyLoad::Unchanged { .. }));

        write(dir.path(), "p.yaml", "rules: []\ndefault: deny\n");
        let PolicyLoad::Loaded {
            previous,
            digest: new,
        } = holder.reload()
        else {
            panic!("good bundle rejected");
        };
        assert_eq!(previous.as_deref(), Some(digest.as_str()));
        assert_ne!(new, digest);
    }

    #[test]
    fn missing_directory_is_rejected() {
        let holder = PolicyHolder::new(Path::new("/nonexistent/bundle"));
        assert!(matches!(
            holder.reload(),
            PolicyLoad::Rejected { in_force: None, .. }
        ));
        assert!(holder.current().is_none());
    }
}
