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

/// The shortest prefixes (at least 12 characters) of two hashes that tell
/// them apart, for mismatch messages.
pub fn distinct_prefixes<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let n = (common + 1).max(12);
    let cut = |s: &'a str| s.get(..n.min(s.len())).unwrap_or(s);
    (cut(a), cut(b))
}
