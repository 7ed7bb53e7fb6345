//! The mail transfer agent's decisions: where does each recipient's copy go?
//!
//! Flowchart step 3 (address processing) lives in [`route`]: a local domain means local delivery
//! (step 6), any other domain means the outbound queue (steps 4 and 5), and some addresses are
//! refused outright. The outbound queue, DNS lookup and SMTP client arrive with the outbound
//! MTA; until then every remote recipient is refused as a relay attempt.

pub mod accept;
pub mod bounce;
pub mod client;
pub mod message;
pub mod queue;
pub mod route;
pub mod scheduler;
pub mod transport;

use crate::serve::Shared;
use scheduler::Destination;

/// Step 4 through DNS. Until the DNS resolver is wired in, no domain can be looked up, so mail
/// to it waits in the queue (a transport map route still works).
pub fn dns_lookup(_shared: &Shared, domain: &str) -> (Destination, Vec<String>) {
    let why = format!("{domain}: no DNS resolver available; add a route to DIR/transport");
    (Destination::Temporary(why.clone()), vec![why])
}
