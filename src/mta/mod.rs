//! The mail transfer agent's decisions: where does each recipient's copy go?
//!
//! Flowchart step 3 (address processing) lives in [`route`]: a local domain means local delivery
//! (step 6), any other domain means the outbound queue (steps 4 and 5), and some addresses are
//! refused outright.
//!
//! | file | job |
//! |---|---|
//! | `route.rs` | step 3: local, remote or refused, for one recipient |
//! | `accept.rs` | the moment before 250: local copies and queue files, all synced |
//! | `queue.rs` | the queue files in `DIR/queue/` |
//! | `envelope_file.rs` | the text of a queue file's envelope, written and read back |
//! | `scheduler.rs` | the queue manager: steps 4 and 5 for each due message, retries |
//! | `transport.rs` | static routes that replace DNS (`DIR/transport`) |
//! | `client.rs` | step 5: our SMTP client |
//! | `connection_cache.rs` | step 5: connections kept open a moment for the next message |
//! | `bounce.rs` | RFC 3464 reports for the sender when delivery fails |

pub mod accept;
pub mod bounce;
pub mod client;
pub mod connection_cache;
pub mod envelope_file;
pub mod message;
pub mod queue;
pub mod route;
pub mod scheduler;
pub mod transport;

use std::net::SocketAddr;

use crate::context::Shared;
use crate::dns::Lookup;
use scheduler::{Destination, Host};

/// Step 4 through DNS: the receiving servers for `domain`, and the lines for the transcript.
/// Each MX host's addresses get `relay_port` (25 on the internet; a lab may use another).
pub fn dns_lookup(shared: &Shared, domain: &str) -> (Destination, Vec<String>) {
    let (lookup, lines) = shared.resolver.mail_hosts_explained(domain);
    let destination = match lookup {
        Lookup::Hosts(hosts) => Destination::Hosts(
            hosts
                .into_iter()
                .map(|h| Host {
                    name: h.name,
                    addrs: h
                        .addrs
                        .into_iter()
                        .map(|ip| SocketAddr::new(ip, shared.config.relay_port))
                        .collect(),
                })
                .collect(),
        ),
        Lookup::NullMx => Destination::NullMx,
        Lookup::NoSuchDomain => Destination::NoSuchDomain,
        Lookup::Temporary(why) => Destination::Temporary(why),
    };
    (destination, lines)
}
