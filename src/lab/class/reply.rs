//! The class registration's replies, all in one place: one line each, with SMTP's reply codes
//! (RFC 5321 section 4.2) and enhanced status codes (RFC 3463), so a student who has typed
//! SMTP by hand reads them the same way: 2xx done, 4xx try again later, 5xx no.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use super::{MAX_LINE, MAX_LINES, MAX_STUDENTS, PER_MINUTE};

/// One answer of the registration (`src/lab/class/host.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The greeting, which names the zone (the student's `join` reads it from here).
    Ready {
        zone: String,
    },
    Joined {
        domain: String,
        address: Ipv4Addr,
        keys: usize,
    },
    Left {
        domain: String,
    },
    /// LEAVE for a name the roster does not hold: done already.
    NotInClass {
        domain: String,
    },
    /// The connection comes from outside the class network.
    OutsideNetwork {
        network: String,
    },
    TooManyAtOnce,
    TooManyAddresses,
    TooFast {
        peer: IpAddr,
    },
    TooSlow,
    LineTooLong,
    TooManyLines,
    /// The request is not JOIN NAME CODE / LEAVE NAME CODE, DKIM lines, END; says why.
    Syntax(String),
    WrongCode,
    Taken {
        domain: String,
        by: Ipv4Addr,
    },
    /// This address holds another name already.
    HasName {
        address: Ipv4Addr,
        domain: String,
    },
    Full,
    NotIpv4,
    /// The teacher's disk or zone failed; says what.
    Failed(String),
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Ready { zone } => write!(
                f,
                "220 {zone} registration, postlab lab class: JOIN NAME CODE or LEAVE NAME CODE, \
                 then DKIM lines, then END"
            ),
            Reply::Joined {
                domain,
                address,
                keys,
            } => write!(
                f,
                "250 {domain} is {address}: MX 10 mx.{domain}, {keys} DKIM key(s)"
            ),
            Reply::Left { domain } => write!(f, "250 {domain} left the class"),
            Reply::NotInClass { domain } => write!(f, "250 {domain} was not in the class"),
            Reply::OutsideNetwork { network } => {
                write!(f, "550 5.7.1 only {network} may register in this class")
            }
            Reply::TooManyAtOnce => write!(
                f,
                "421 4.7.0 too many registrations at once, try again in a moment"
            ),
            Reply::TooManyAddresses => write!(
                f,
                "421 4.7.0 too many addresses are registering, try again in a minute"
            ),
            Reply::TooFast { peer } => write!(
                f,
                "421 4.7.0 more than {PER_MINUTE} requests a minute from {peer}, wait a minute"
            ),
            Reply::TooSlow => write!(f, "421 4.4.2 the request took too long"),
            Reply::LineTooLong => write!(f, "500 5.5.2 a line longer than {MAX_LINE} octets"),
            Reply::TooManyLines => {
                write!(f, "501 5.5.4 a request has at most {MAX_LINES} lines")
            }
            Reply::Syntax(why) => write!(f, "501 5.5.4 {why}"),
            Reply::WrongCode => write!(
                f,
                "535 5.7.8 that is not the class code (the teacher's screen shows it)"
            ),
            Reply::Taken { domain, by } => {
                write!(
                    f,
                    "550 5.7.1 {domain} is taken by {by}: choose another name"
                )
            }
            Reply::HasName { address, domain } => write!(
                f,
                "550 5.7.1 {address} is already {domain}: postlab lab class leave first"
            ),
            Reply::Full => write!(f, "452 4.5.3 the class is full ({MAX_STUDENTS} students)"),
            Reply::NotIpv4 => write!(f, "550 5.7.1 register over IPv4"),
            Reply::Failed(what) => write!(f, "451 4.3.0 {what}"),
        }
    }
}
