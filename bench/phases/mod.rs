//! The six phases, one file each; each writes its section of BENCHMARKS.md and records
//! its claims.

pub(crate) mod cpu;
pub(crate) mod flood;
pub(crate) mod latency;
pub(crate) mod scale;
pub(crate) mod soak;
pub(crate) mod window;
