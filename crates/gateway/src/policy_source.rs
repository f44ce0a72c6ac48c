//! Reading a policy bundle directory from disk into the engine's [`SourceFile`]s, and telling
//! when it changed.
//!
//! Policy files are the `*.yaml` / `*.yml` files of the directory and its subdirectories, except
//! `tests/` (fixtures) and hidden entries. Fixtures are the YAML files of `tests/`. Symbolic links
//! are followed only for the directory itself.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};
use warden_policy::{MAX_FILE_BYTES, SourceFile};

/// Most files read from one bundle directory.
const MAX_FILES: usize = 1_000;

/// A bundle directory that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The path is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    /// A file or directory cannot be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is larger than a policy file may be.
    #[error("{path}: file is {size} bytes; the limit is {MAX_FILE_BYTES}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The directory holds too many YAML files.
    #[error("{0} holds more than {MAX_FILES} YAML files")]
    TooManyFiles(PathBuf),
    /// A file is not UTF-8.
    #[error("{name}: not valid UTF-8 (byte {offset})")]
    NotUtf8 {
        /// The file, relative to the bundle.
        name: String,
        /// The first invalid byte.
        offset: usize,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SourceError + '_ {
    move |source| SourceError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The policy files of the bundle at `dir`.
pub fn policy_files(dir: &Path) -> Result<Vec<SourceFile>, SourceError> {
    read_all(dir, &policy_paths(dir)?)
}

/// The fixture files in `dir/tests/`.
pub fn fixture_files(dir: &Path) -> Result<Vec<SourceFile>, SourceError> {
    let tests = dir.join("tests");
    if !tests.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths = Vec::new();
    collect(dir, &tests, &mut paths, false)?;
    paths.sort();
    read_all(dir, &paths)
}

/// A fingerprint of the bundle's files (names, sizes, modification times): it changes whenever a
/// policy file is added, removed or written.
pub fn fingerprint(dir: &Path) -> Result<String, SourceError> {
    let mut hasher = Sha256::new();
    for path in policy_paths(dir)? {
        let meta = fs::metadata(&path).map_err(io(&path))?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(meta.len().to_le_bytes());
        hasher.update(modified.to_le_bytes());
    }
    Ok(hex::encode(hasher.finalize()))
}

fn policy_paths(dir: &Path) -> Result<Vec<PathBuf>, SourceError> {
    if !dir.is_dir() {
        return Err(SourceError::NotADirectory(dir.to_owned()));
    }
    let mut paths = Vec::new();
    collect(dir, dir, &mut paths, true)?;
    paths.sort();
    Ok(paths)
}

fn collect(
    root: &Path,
    dir: &Path,
    out: &mut Vec<PathBuf>,
    skip_tests: bool,
) -> Result<(), SourceError> {
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            if skip_tests && dir == root && name == "tests" {
                continue;
            }
            collect(root, &path, out, skip_tests)?;
        } else if kind.is_file() && (name.ends_with(".yaml") || name.ends_with(".yml")) {
            out.push(path);
        }
        if out.len() > MAX_FILES {
            return Err(SourceError::TooManyFiles(root.to_owned()));
        }
    }
    Ok(())
}

fn read_all(root: &Path, paths: &[PathBuf]) -> Result<Vec<SourceFile>, SourceError> {
    paths
        .iter()
        .map(|path| {
            let size = fs::metadata(path).map_err(io(path))?.len();
            if size > MAX_FILE_BYTES as u64 {
                return Err(SourceError::TooLarge {
                    path: path.clone(),
                    size,
                });
            }
            let bytes = fs::read(path).map_err(io(path))?;
            let name = path
                .strip_prefix(root)
                .unwrap_or(path)
                .to_string_lossy()
                .into_owned();
            let text = String::from_utf8(bytes).map_err(|e| SourceError::NotUtf8 {
                name: name.clone(),
                offset: e.utf8_error().valid_up_to(),
            })?;
            Ok(SourceFile { name, text })
        })
        .collect()
}
