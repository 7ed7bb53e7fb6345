//! The mail transfer agent's decisions: where does each recipient's copy go?
//!
//! Flowchart step 3 (address processing) lives in [`route`]: a local domain means local delivery
//! (step 6), any other domain means the outbound queue (steps 4 and 5), and some addresses are
//! refused outright. The outbound queue, DNS lookup and SMTP client arrive with the outbound
//! MTA; until then every remote recipient is refused as a relay attempt.

pub mod message;
pub mod route;
