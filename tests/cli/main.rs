//! CLI integration tests: run the built binaries on small scenarios in a temp
//! dir and check the artifacts by reading them back (one test binary, topic
//! modules, as in ripgrep's tests/tests.rs).

mod util;

mod ckm;
mod ckm_hostile;
mod ckm_plot;
mod generate;
mod grid_align;
mod layouts;
mod readme_sequence;
mod refusals;
mod run;
mod sets;
mod streams;
mod wide;
