//! The peers that are not C libraries: this workspace's flavours (one
//! generic implementation) and crossbeam-epoch.

mod epoch;
mod ours;

pub use epoch::Epoch;
pub use ours::{Ours, PoolRead};
