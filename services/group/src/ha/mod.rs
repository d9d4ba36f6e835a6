//! Several group controllers sharing their groups through etcd (`--store etcd://...`): each
//! group owned by one live controller at a time, spread over them, moved when one dies or
//! joins, and fenced so that a deposed owner cannot act.
//!
//! - [`client`]: a small etcd v3 client (failover between members, deadlines).
//! - [`keys`]: the key layout under the prefix.
//! - [`lease`]: this controller's lease and registration (its session).
//! - [`cli`]: the flags and the start of a controller sharing an etcd store.
//! - [`assign`]: which controller should own a group (rendezvous hashing).
//! - [`record`]: a group's record as stored (compressed when large).
//! - [`store`]: group records in etcd, every write guarded by the owner key.
//! - [`coordinator`]: claims, releases and hand-overs; publishes the status of the groups it
//!   owns and carries out their orders.
//! - [`orders`]: changes sent to a controller that does not own the group, relayed through etcd.
//! - [`replica`]: answering for groups another controller owns, from etcd.

pub mod assign;
pub mod cli;
pub mod client;
pub mod coordinator;
pub mod keys;
pub mod lease;
pub mod orders;
pub mod record;
pub mod replica;
pub mod store;
