//! `postlab lab class`: a class across laptops, each student's laptop one mail host on the
//! classroom's network, with the teacher's laptop as the class's DNS.
//!
//! ```text
//!   teacher 192.168.5.10   postlab lab class host --network 192.168.5.0/24
//!       :10053  DNS for class.test (UDP and TCP), written from the roster
//!       :10054  registration: JOIN NAME CODE … END  → a line in class/roster
//!   ani     192.168.5.23   postlab lab class join ani --teacher 192.168.5.10 --code 7K3M-Q9TX
//!       :10025 … a mail server for ani.class.test, asking the teacher's DNS
//!   budi    192.168.5.24   postlab lab class join budi …
//! ```
//!
//! Mail from alice@ani.class.test to bob@budi.class.test takes the internet's way: ani's
//! queue asks the teacher's DNS for the MX of budi.class.test, gets mx.budi.class.test at
//! 192.168.5.24, and relays there, from ani's own address.
//!
//! A classroom's network is shared with people who are not in the class, so every piece is
//! safe by default: the network must be a private one (RFC 1918, or a documentation range of
//! RFC 5737 for tests) and the laptop must have an address in it; each program listens on
//! that one address (the web board stays on loopback), never on all of them; the DNS answers
//! for the class's zone only and refuses everything else (no open resolver); a student's
//! server relays only for its own machine and logged-in users, and only to class domains
//! (`relay_to`), so no laptop is a relay for the room; passwords travel only over TLS off
//! loopback, as everywhere in postlab. Registration is guarded by a class code, a per-address
//! rate and small sizes ([`host`]).
//!
//! The teacher's side is in `class/host.rs`, the student's in `class/join.rs`; this file has
//! what both share: names, networks and the roster.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use crate::config::Network;

pub mod host;
mod join;
mod reply;
pub use host::host;
pub use join::{join, leave, status, Join};

/// The class's zone unless the teacher names another (`--zone`).
pub const ZONE: &str = "class.test";

/// The teacher's DNS port, before the port offset (10053 with the default offset).
pub const DNS_PORT: u16 = 53;

/// The teacher's registration port, before the port offset: the one after DNS's (10054).
pub const REGISTER_PORT: u16 = 54;

// The registration's limits (`class/host.rs` enforces them, `class/reply.rs` names them).

/// Requests one address may make in a minute.
pub const PER_MINUTE: u32 = 10;
/// Lines in one request: the command, up to four DKIM records, END, and a little room.
pub const MAX_LINES: usize = 8;
/// Octets in one line: an RSA-2048 DKIM record is about 420.
pub const MAX_LINE: usize = 1024;
/// How long a whole request may take, from the greeting to END.
pub const REQUEST_TIME: Duration = Duration::from_secs(10);
/// Requests served at the same time.
pub const MAX_AT_ONCE: usize = 16;
/// Students in one roster.
pub const MAX_STUDENTS: usize = 254;

/// Names a roster must never hand out: the zone's own (`ns`), and the files beside the
/// students' folders in the class folder.
const RESERVED: [&str; 8] = [
    "ns", "mx", "www", "roster", "keys", "code", "joined", "zone",
];

/// A student's name: 1 to 20 of `a-z`, `0-9` and `-`, starting with a letter, not ending
/// with `-` (an RFC 1035 section 2.3.1 label, kept short). The name becomes a DNS label and a
/// folder, so nothing else may pass: no dot, no quote, no space, no `$`.
pub fn check_name(name: &str) -> Result<(), String> {
    let fits = (1..=20).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !fits {
        return Err(format!(
            "'{name}' cannot be a class name: 1 to 20 of a-z, 0-9 and -, starting with a letter"
        ));
    }
    if RESERVED.contains(&name) {
        return Err(format!(
            "'{name}' is kept for the class itself: choose another"
        ));
    }
    Ok(())
}

/// The class zone: a name under `.test` (RFC 6761 section 6.2), which no real domain can be,
/// so a class's mail can never be mistaken for the world's.
pub fn check_zone(zone: &str) -> Result<(), String> {
    let labels_fit = zone.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if labels_fit && zone.ends_with(".test") && zone.len() <= 60 {
        Ok(())
    } else {
        Err(format!(
            "'{zone}' cannot be the class zone: a lower-case name ending in .test (RFC 6761), e.g. class.test"
        ))
    }
}

/// May a class run on this address? Private networks (RFC 1918) and, for tests and
/// documentation, RFC 5737's TEST-NETs: never a public address, whose network is the world.
pub fn private(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_private() || matches!(o, [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _])
}

/// Reads `--network`: an IPv4 network (at most a /8) that [`private`] allows.
pub fn parse_network(text: &str) -> Result<Network, String> {
    let network = Network::parse(text)
        .filter(|n| text.contains('/') && n.addr.is_ipv4() && (8..=30).contains(&n.prefix))
        .ok_or_else(|| {
            format!("--network: '{text}' is not an IPv4 network such as 192.168.5.0/24")
        })?;
    // Its first and its last address private: then all between are (the private blocks are
    // far apart, and a network is at most a /8).
    let start = match network.addr {
        IpAddr::V4(ip) => u32::from(ip) & (u32::MAX << (32 - u32::from(network.prefix))),
        IpAddr::V6(_) => 0,
    };
    let end = start | (u32::MAX >> u32::from(network.prefix));
    match (Ipv4Addr::from(start), Ipv4Addr::from(end)) {
        (first, last) if private(first) && private(last) => Ok(network),
        _ => Err(format!(
            "--network {text} is not a private network (RFC 1918: 10.0.0.0/8, 172.16.0.0/12, \
             192.168.0.0/16): a class runs on a classroom's own network only"
        )),
    }
}

/// This machine's address for reaching `toward`: the source address the system would give a
/// packet to it. A UDP socket that is connected but sends nothing asks the routing table and
/// puts no packet on the wire.
pub fn source_address(toward: Ipv4Addr) -> Result<Ipv4Addr, String> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(|e| e.to_string())?;
    socket
        .connect(SocketAddr::from((toward, 9)))
        .map_err(|e| format!("no route to {toward} from this machine: {e}"))?;
    match socket.local_addr().map_err(|e| e.to_string())?.ip() {
        IpAddr::V4(ip) => Ok(ip),
        IpAddr::V6(_) => Err(format!("no IPv4 address toward {toward}")),
    }
}

/// The address a program of the class listens on: `listen` if given, else this machine's
/// address toward `toward`. Never 0.0.0.0, never loopback, always private: one interface of
/// one classroom network.
pub fn class_address(listen: Option<Ipv4Addr>, toward: Ipv4Addr) -> Result<Ipv4Addr, String> {
    let ip = match listen {
        Some(ip) => ip,
        None => source_address(toward)?,
    };
    if ip.is_unspecified() || ip.is_loopback() || !private(ip) {
        return Err(format!(
            "{ip} is not an address on a classroom network (private, RFC 1918): give this \
             laptop's address on it with --listen"
        ));
    }
    Ok(ip)
}

/// `n` characters from 32 that cannot be mistaken for each other (no 0/O, 1/I): 5 random
/// bits each, from the system's generator. For class codes and first passwords.
pub fn random_text(n: usize) -> Result<String, String> {
    const LETTERS: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = vec![0u8; n];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").map_err(|e| format!("/dev/urandom: {e}"))?,
        &mut bytes,
    )
    .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(bytes
        .iter()
        .map(|b| LETTERS[usize::from(b % 32)] as char)
        .collect())
}

/// One line of the roster: who, at which address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Student {
    pub name: String,
    pub address: Ipv4Addr,
}

/// Reads `DIR/roster`: `NAME ADDRESS` lines, `#` comments. The teacher may edit it by hand,
/// so a line that does not fit is skipped and named in the second list, not fatal.
pub fn read_roster(text: &str) -> (Vec<Student>, Vec<String>) {
    let mut students: Vec<Student> = Vec::new();
    let mut skipped = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let student = match (words.next(), words.next(), words.next()) {
            (Some(name), Some(address), None) => check_name(name)
                .ok()
                .and(address.parse().ok())
                .map(|address| Student {
                    name: name.to_string(),
                    address,
                }),
            _ => None,
        };
        match student {
            Some(s) if !students.iter().any(|t| t.name == s.name) => students.push(s),
            _ => skipped.push(format!("roster line {}: {line}", n + 1)),
        }
    }
    (students, skipped)
}

/// The roster's text, with its header.
pub fn write_roster(students: &[Student]) -> String {
    let mut text = String::from(
        "# The class, one student a line: NAME ADDRESS. Written by `postlab lab class host` when\n\
         # a student joins or leaves; edit it by hand too: the zone follows within a second.\n",
    );
    for s in students {
        let _ = writeln!(text, "{} {}", s.name, s.address);
    }
    text
}

/// A DKIM key record a student sends: `SELECTOR v=DKIM1; k=rsa|ed25519; p=BASE64`. Checked
/// to the character, because it is written into the zone file: a quote or a newline there
/// would let one student write records for another.
pub fn check_dkim(selector: &str, record: &str) -> Result<(), String> {
    let selector_fits = (1..=63).contains(&selector.len())
        && selector
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let key = record
        .strip_prefix("v=DKIM1; k=rsa; p=")
        .or_else(|| record.strip_prefix("v=DKIM1; k=ed25519; p="));
    let key_fits = key.is_some_and(|k| {
        (1..=800).contains(&k.len())
            && k.trim_end_matches('=')
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    });
    if selector_fits && key_fits {
        Ok(())
    } else {
        Err("a DKIM line is SELECTOR v=DKIM1; k=rsa|ed25519; p=BASE64".into())
    }
}

/// `DIR/keys/NAME`: the student's DKIM records, `SELECTOR RECORD` a line, as sent.
pub fn read_keys(dir: &Path, name: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join("keys").join(name))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(s, r)| check_dkim(s, r).is_ok())
        .map(|(s, r)| (s.to_string(), r.to_string()))
        .take(4)
        .collect()
}

/// The zone file for the class (RFC 1035 section 5): the DNS on the teacher's laptop, and for
/// each student the records `postlab lab up` publishes for a lab server — MX, A, SPF for the
/// domain and the MX host, DMARC p=reject, and the DKIM keys the student sent.
pub fn zone_text(
    zone: &str,
    serial: u32,
    teacher: Ipv4Addr,
    students: &[Student],
    dir: &Path,
) -> String {
    let mut text = format!(
        "; The class's DNS, written by `postlab lab class host` from {}/roster: edit that, not this.\n\
         $ORIGIN {zone}.\n\
         $TTL 10\n\
         @          SOA   ns hostmaster ( {serial} 3600 600 86400 10 )\n\
         @          NS    ns\n\
         ns         A     {teacher}\n\n",
        dir.display()
    );
    for s in students {
        let (n, ip) = (&s.name, s.address);
        let mut record = |owner: String, data: String| {
            let _ = writeln!(text, "{owner:<32} {data}");
        };
        record(n.clone(), format!("MX    10 mx.{n}"));
        record(format!("mx.{n}"), format!("A     {ip}"));
        record(n.clone(), format!("TXT   \"v=spf1 ip4:{ip} -all\""));
        record(format!("mx.{n}"), format!("TXT   \"v=spf1 ip4:{ip} -all\""));
        record(format!("_dmarc.{n}"), "TXT   \"v=DMARC1; p=reject\"".into());
        for (selector, record_text) in read_keys(dir, n) {
            record(
                format!("{selector}._domainkey.{n}"),
                format!(
                    "TXT   {}",
                    crate::mailauth::keys::zone_strings(&record_text)
                ),
            );
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_break_the_zone_are_refused() {
        for good in ["ani", "budi-2", "a"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Ani",
            "2ani",
            "ani-",
            "a.b",
            "a b",
            "a\"",
            "$include",
            "ns",
            "roster",
            "abcdefghijklmnopqrstu",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_zone("class.test").is_ok());
        assert!(check_zone("example.com").is_err());
        assert!(check_zone("a\".test").is_err());
    }

    #[test]
    fn only_private_and_documentation_networks() {
        assert!(parse_network("192.168.5.0/24").is_ok());
        assert!(parse_network("10.0.0.0/8").is_ok());
        assert!(parse_network("203.0.113.0/24").is_ok());
        assert!(parse_network("8.8.8.0/24").is_err());
        assert!(
            parse_network("192.168.5.7").is_err(),
            "a network, not one address"
        );
        assert!(parse_network("0.0.0.0/0").is_err());
        assert!(
            parse_network("192.168.0.0/8").is_err(),
            "192.0.0.0/8 is mostly public"
        );
        assert!(class_address(Some(Ipv4Addr::UNSPECIFIED), Ipv4Addr::LOCALHOST).is_err());
        assert!(class_address(Some(Ipv4Addr::LOCALHOST), Ipv4Addr::LOCALHOST).is_err());
    }

    #[test]
    fn the_roster_skips_what_does_not_fit() {
        let (students, skipped) =
            read_roster("# c\nani 192.168.5.23\nani 192.168.5.24\nbad name x\nbudi 1.2.3\nbudi 192.168.5.24 # b\n");
        assert_eq!(
            students,
            vec![
                Student {
                    name: "ani".into(),
                    address: "192.168.5.23".parse().unwrap()
                },
                Student {
                    name: "budi".into(),
                    address: "192.168.5.24".parse().unwrap()
                },
            ]
        );
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert_eq!(read_roster(&write_roster(&students)).0, students);
    }

    #[test]
    fn dkim_lines_carry_no_zone_syntax() {
        assert!(check_dkim("postlab-rsa", "v=DKIM1; k=rsa; p=MIIBIjAN+/9=").is_ok());
        assert!(check_dkim("postlab-ed25519", "v=DKIM1; k=ed25519; p=11qY").is_ok());
        assert!(check_dkim("x", "v=DKIM1; k=rsa; p=ab\" \"x").is_err());
        assert!(check_dkim("x", "v=DKIM1; k=rsa; p=ab\nmx A 1.2.3.4").is_err());
        assert!(check_dkim("X.y", "v=DKIM1; k=rsa; p=ab").is_err());
        assert!(check_dkim("x", "v=spf1 +all").is_err());
    }

    #[test]
    fn the_zone_written_from_a_roster_reads_back() {
        let students = read_roster("ani 192.168.5.23\nbudi 192.168.5.24\n").0;
        let teacher = "192.168.5.10".parse().unwrap();
        let text = zone_text(
            "class.test",
            7,
            teacher,
            &students,
            Path::new("/nonexistent"),
        );
        let zone = crate::dns::zone::Zone::parse(&text, "class.zone").unwrap();
        let mx: Vec<String> = zone
            .records
            .iter()
            .filter(|r| r.record_type() == hickory_server::proto::rr::RecordType::MX)
            .map(|r| format!("{} {}", r.name, r.data))
            .collect();
        assert_eq!(
            mx,
            [
                "ani.class.test. 10 mx.ani.class.test.",
                "budi.class.test. 10 mx.budi.class.test."
            ]
        );
    }
}
