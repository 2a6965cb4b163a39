//! Deferred work handed from threads to the reclaim thread.
//!
//! * `callback`: the callback head (`RcuHead`) and boxed closures;
//! * `slot_pool`: the recycled memory small boxed closures live in;
//! * `local_callbacks`: a thread's own callback list, handed on in batches;
//! * `queue`: the shared wait-free callback queue the reclaim thread drains.

pub(crate) mod callback;
pub(crate) mod local_callbacks;
pub(crate) mod queue;
pub(crate) mod slot_pool;
