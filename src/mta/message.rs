//! A message as the MTA holds it: the envelope (who from, who to, under which queue id) and the
//! content (the header lines and body the client sent, with our `Received:` line on top).
//!
//! The envelope is not part of the content: RFC 5321 §2.3.1 keeps them apart, which is why a
//! `To:` header can name someone who is not a recipient (Bcc) and vice versa.

use super::route::Route;
use crate::address::{Address, ReversePath};
use crate::ids::QueueId;

/// One accepted recipient and step 3's decision for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: Address,
    pub route: Route,
}

/// The SMTP envelope (RFC 5321 §2.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: QueueId,
    pub from: ReversePath,
    pub recipients: Vec<Recipient>,
    /// RFC 6531: the client asked for SMTPUTF8.
    pub smtputf8: bool,
    /// RFC 6152: the client declared BODY=8BITMIME.
    pub body_8bit: bool,
}

impl Envelope {
    /// The addresses in other domains that get a copy through the queue, each once: remote
    /// recipients, and the targets of aliases that forward.
    pub fn remote_addresses(&self) -> Vec<Address> {
        let mut addresses: Vec<Address> = Vec::new();
        for recipient in &self.recipients {
            let more = match &recipient.route {
                Route::Remote(address) => std::slice::from_ref(address),
                Route::Forwarded { remote, .. } => remote.as_slice(),
                _ => &[],
            };
            for address in more {
                if !addresses.contains(address) {
                    addresses.push(address.clone());
                }
            }
        }
        addresses
    }

    /// The accounts that get a copy here, each once, in recipient order.
    pub fn local_accounts(&self) -> Vec<&str> {
        let mut accounts: Vec<&str> = Vec::new();
        for recipient in &self.recipients {
            let names = match &recipient.route {
                Route::Local(names) => names,
                Route::Forwarded { accounts, .. } => accounts,
                _ => continue,
            };
            for name in names {
                if !accounts.contains(&name.as_str()) {
                    accounts.push(name);
                }
            }
        }
        accounts
    }
}

/// A complete message, ready for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub envelope: Envelope,
    /// Our `Received:` header field, with its CRLF (RFC 5321 §4.4).
    pub received: String,
    /// The content as the client sent it, dot-unstuffed, lines ending in CRLF.
    pub content: Vec<u8>,
    /// Who handed it over: decides whether it is DKIM-signed or checked (`src/mailauth/`).
    pub origin: Origin,
    /// DMARC asked for quarantine (`dmarc_policy = enforce`): local copies go to Junk.
    pub junk: bool,
}

/// Who handed us a message, as far as checking and signing care.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Origin {
    /// One of ours: a logged-in user, or a client in `relay_networks`. Signed.
    Ours,
    /// Another server, on port 25 from outside `relay_networks`. Checked.
    Outside { ip: std::net::IpAddr, helo: String },
    /// Made here (a bounce): neither.
    #[default]
    Here,
}
