//! `mandate bench`: the kit measured against its baselines (`bench/`). Its flags live with the
//! bench itself (`bench::BenchArgs`), which reads them again in its footprint child mode.

pub use crate::bench::BenchArgs;

use super::Global;

pub async fn run(args: &BenchArgs, global: Global) -> anyhow::Result<()> {
    crate::bench::run(args, global.json).await
}
