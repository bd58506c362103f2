//! TODO(session): being written.
#[derive(Debug, clap::Parser)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
