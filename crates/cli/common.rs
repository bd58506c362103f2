//! Helpers shared by the CLIs: scenario loading, progress bars, output folders.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sdusc_model::Scenario;
use sdusc_model::scenario::ScenarioError;

/// Load and validate a scenario, with the path in the error (read and parse
/// errors name it already; a refused field gets it as context).
pub fn load_scenario(path: &Path) -> anyhow::Result<Scenario> {
    Scenario::load(path).map_err(|e| match e {
        ScenarioError::Invalid { .. } => {
            anyhow::Error::new(e).context(format!("invalid scenario {}", path.display()))
        }
        other => other.into(),
    })
}

/// A progress bar on stderr over `len` steps, hidden when stderr is not a
/// terminal (CI logs, pipes) so logs stay clean.
pub fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>12} [{bar:40}] {pos}/{len} {msg} ({elapsed} elapsed, ETA {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// Make sure the folder of `path` exists (creating it), so a write error
/// names a real problem rather than a missing folder.
pub fn ensure_parent(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output folder {}", dir.display()))?;
    }
    Ok(())
}

/// Create an output folder (and parents).
pub fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create output folder {}", dir.display()))
}

/// Configure rayon's global pool when the user asked for a thread count.
pub fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("cannot configure the thread pool")?;
    }
    Ok(())
}

/// `println!` that returns the write error instead of panicking, so a closed
/// pipe (`ckm inspect FILE | head`) ends the program quietly (see `main_with`).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

/// `eprintln!` that ignores write errors: a closed or full stderr
/// (`build-ckm … 2>&1 | head -1`, `2>/dev/full`) must not abort a run whose
/// artifacts are fine; only the log line is lost.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub use sdusc_formats::provenance::distinct_prefixes;

/// SHA-256 (hex) of a file's bytes, read in blocks.
pub fn file_sha256(path: &Path) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut block)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&block[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Entry names of build-ckm's output set (`bs<id>.ckm`, `quality.parquet`).
pub fn is_ckm_output(name: &str) -> bool {
    name == "quality.parquet"
        || name
            .strip_prefix("bs")
            .and_then(|n| n.strip_suffix(".ckm"))
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|c| c.is_ascii_digit()))
}

/// Entry names of run-sdusc's output set.
pub fn is_run_output(name: &str) -> bool {
    matches!(
        name,
        "epochs.parquet" | "user_epochs.parquet" | "bs_epochs.parquet" | "manifest.json"
    )
}

/// Stage an output set in `dir` (see `sdusc_formats::atomic::StagedDir`).
pub fn stage_dir(
    dir: &Path,
    owns: fn(&str) -> bool,
) -> anyhow::Result<sdusc_formats::atomic::StagedDir> {
    sdusc_formats::atomic::StagedDir::create(dir, owns)
        .with_context(|| format!("cannot prepare output folder {}", dir.display()))
}
