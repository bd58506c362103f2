//! The SD-USCB command-line tools. Each binary in `bin/` is a thin `main` that
//! parses its arguments and calls `run` of its module here; all logic lives in
//! the library crates under `crates/`.

pub mod budget;
pub mod build_ckm;
pub mod ckm;
pub mod common;
pub mod gen_rsrp;
pub mod gen_traj;
pub mod paper;
pub mod run_sdusc;

use std::io::Write;
use std::process::ExitCode;

/// Parse the arguments of `A`, run, and turn the outcome into an exit code:
/// errors print their whole chain on stderr; a closed stdout is not an error.
pub fn main_with<A: clap::Parser>(run: fn(A) -> anyhow::Result<()>) -> ExitCode {
    let args = A::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
