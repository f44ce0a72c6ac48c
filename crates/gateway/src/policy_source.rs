//! Reading a policy bundle directory from disk into the engine's [`SourceFile`]s.
//!
//! Policy files are the `*.yaml` / `*.yml` files of the directory and its subdirectories, except
//! `tests/` (fixtures) and hidden entries. Fixtures are the YAML files of `tests/`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use warden_policy::{MAX_FILE_BYTES, SourceFile};

/// Most files read from one bundle directory.
const MAX_FILES: usize = 1_000;

/// The policy files of the bundle at `dir`.
pub fn policy_files(dir: &Path) -> Result<Vec<SourceFile>> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let mut paths = Vec::new();
    collect(dir, dir, &mut paths, true)?;
    read_all(dir, paths)
}

/// The fixture files in `dir/tests/`.
pub fn fixture_files(dir: &Path) -> Result<Vec<SourceFile>> {
    let tests = dir.join("tests");
    if !tests.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths = Vec::new();
    collect(dir, &tests, &mut paths, false)?;
    read_all(dir, paths)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>, skip_tests: bool) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if skip_tests && dir == root && name == "tests" {
                continue;
            }
            collect(root, &path, out, skip_tests)?;
        } else if kind.is_file() && (name.ends_with(".yaml") || name.ends_with(".yml")) {
            out.push(path);
        }
        if out.len() > MAX_FILES {
            bail!("{} holds more than {MAX_FILES} YAML files", root.display());
        }
    }
    Ok(())
}

fn read_all(root: &Path, mut paths: Vec<PathBuf>) -> Result<Vec<SourceFile>> {
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let size = fs::metadata(&path)
                .with_context(|| format!("reading {}", path.display()))?
                .len();
            if size > MAX_FILE_BYTES as u64 {
                bail!(
                    "{}: file is {size} bytes; the limit is {MAX_FILE_BYTES}",
                    path.display()
                );
            }
            let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let text = String::from_utf8(bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{name}: not valid UTF-8 (byte {})",
                    e.utf8_error().valid_up_to()
                )
            })?;
            Ok(SourceFile { name, text })
        })
        .collect()
}
