//! `sdusc-paper` binary: parse arguments and hand over to the library.
use std::process::ExitCode;

fn main() -> ExitCode {
    sdusc_cli::main_with(sdusc_cli::paper::run)
}
