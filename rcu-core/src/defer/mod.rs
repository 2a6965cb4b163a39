//! Deferred work handed from threads to the reclaim thread.
//!
//! * `callback`: the callback head (`RcuHead`) and boxed closures;
//! * `slot_pool`: the recycled memory small boxed closures live in;
//! * `local_callbacks`: a thread's own callback list, handed on in batches;
//! * `queue`: the shared wait-free callback queue the reclaim thread drains;
//! * `block`: the bulk block kvfree objects wait in (generic over the slot
//!   it returns to);
//! * `slot`: one thread's deferral slot and its `seq` bracket;
//! * `wake`: the reclaim thread's doorbell;
//! * `deferrals`: every slot, the queue and the doorbell of one flavour,
//!   and the steal that takes from live owners.

pub(crate) mod block;
pub(crate) mod callback;
pub(crate) mod deferrals;
pub(crate) mod local_callbacks;
pub(crate) mod queue;
pub(crate) mod slot;
pub(crate) mod slot_pool;
pub(crate) mod wake;
