//! The zones that `postlab dns` serves: standard zone files, and how a question is answered
//! from them.
//!
//! A zone file is written in the master file format of RFC 1035 section 5, the format BIND's
//! `named` and NSD read, so what a class writes for the lab works on a real name server:
//!
//! ```text
//! $ORIGIN test.                  ; a name without a final dot ends in ".test."
//! $TTL 30                        ; how long an answer may be kept, in seconds
//! @        SOA   ns hostmaster ( 1 3600 600 86400 30 )   ; who is in charge of the zone
//! @        NS    ns              ; the zone's name server...
//! ns       A     127.0.0.1       ; ...and its address
//! b        MX    10 mx.b         ; tried first
//! b        MX    20 backup.b     ; tried when mx.b.test. does not answer
//! mx.b     A     127.0.0.2
//! mx.b     AAAA  ::1
//! backup.b A     127.0.0.3
//! c        A     127.0.0.4       ; no MX: mail goes to this address ("implicit MX")
//! null     MX    0 .             ; null MX (RFC 7505): takes no mail
//! b        TXT   "v=spf1 -all"
//! www.b    CNAME mx.b
//! ```
//!
//! The text ($ORIGIN, $TTL, `@`, relative and absolute names, `;` comments, parentheses across
//! lines, quoted strings) is read by hickory's zone file parser
//! (`hickory_proto::serialize::txt::Parser`), not by code of ours. What this module adds:
//!
//! - **One file holds one zone**, as `named.conf` and `nsd.conf` list them: the zone is the
//!   owner of the file's one SOA record (RFC 1035 section 5.2), and `postlab dns` takes one
//!   `--zone FILE` per zone it serves. Every record lies at or under the zone's top, and the
//!   top has NS records, so `named-checkzone test lab.zone` accepts what the lab accepts.
//! - **Errors that name the file and the line** (`lab.zone:7: ...`). hickory's errors carry no
//!   position, so [`first_line`] finds it by reading longer and longer beginnings of the file.
//! - The rules the answers rely on: a CNAME stands alone (RFC 1034 section 3.6.2); the lab has
//!   no delegations (NS records only at the top) and no wildcards; class IN only.
//!
//! Answering ([`Zones::answer`]) follows RFC 1034 section 4.3.2, cut down to one server with no
//! delegation: a name with records of the type asked for gets them; a name that exists with
//! other types gets an empty answer (NODATA); a name in a zone with nothing at or under it is
//! NXDOMAIN; a CNAME is followed (RFC 1034 section 3.6.2); a name in none of the zones is
//! REFUSED.

use std::collections::HashSet;

use hickory_server::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_server::proto::serialize::txt::{LexerError, ParseError, Parser};

/// One zone, read from its file.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The top of the zone, the owner of its SOA record: `test.`.
    pub origin: Name,
    /// The SOA record, also in `records`; negative answers carry it (RFC 2308 section 3).
    pub soa: Record,
    /// Every record of the file, grouped by name and type.
    pub records: Vec<Record>,
}

/// A zone file the lab cannot serve, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ZoneError {
    /// `lab.zone:7: message`, the way compilers and `named-checkzone` point at a line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl Zone {
    /// Reads the text of zone file `file` (the name is for error messages).
    pub fn parse(text: &str, file: &str) -> Result<Zone, ZoneError> {
        let error = |line: usize, message: String| ZoneError {
            file: file.to_string(),
            line,
            message,
        };
        let records = match read(text) {
            Reading::Records(records) => records,
            Reading::Failed(e) => {
                let line = first_line(text, |r| matches!(r, Reading::Failed(_)));
                return Err(error(line, explain(&e)));
            }
            Reading::Open(e) => return Err(error(entry_start(text, lines(text)), explain(&e))),
            Reading::NoOrigin => {
                return Err(error(
                    1,
                    "no $ORIGIN line: say which zone the names belong to, e.g. `$ORIGIN test.`"
                        .into(),
                ))
            }
        };

        let is_soa = |r: &&Record| r.record_type() == RecordType::SOA;
        let soa = match records.iter().filter(is_soa).collect::<Vec<_>>()[..] {
            [soa] => soa.clone(),
            [] => {
                return Err(error(
                    1,
                    "no SOA record: a zone starts with its SOA (RFC 1035 section 5.2), e.g. \
                     `@ SOA ns hostmaster ( 1 3600 600 86400 30 )`"
                        .into(),
                ))
            }
            [_, second, ..] => {
                let line = first_line(text, |r| r.records().iter().filter(is_soa).count() > 1);
                return Err(error(
                    line,
                    format!(
                        "a second SOA record (at {}): one file holds one zone; give \
                         `postlab dns` one --zone FILE per zone",
                        second.name
                    ),
                ));
            }
        };
        let origin = soa.name.clone();

        if broken(&records, &origin).is_some() {
            let line = first_line(text, |r| broken(r.records(), &origin).is_some());
            let message = broken(settled(text, line).records(), &origin).unwrap_or_default();
            return Err(error(line, message));
        }
        let is_top_ns = |r: &Record| r.record_type() == RecordType::NS && r.name == origin;
        if !records.iter().any(is_top_ns) {
            let line = first_line(text, |r| r.records().iter().any(|r| is_soa(&r)));
            return Err(error(
                line,
                format!(
                    "no NS record at the top of the zone ({origin}): name its name server, \
                     e.g. `@ NS ns` and `ns A 127.0.0.1` (RFC 1035 section 5.2)"
                ),
            ));
        }
        Ok(Zone {
            origin,
            soa,
            records,
        })
    }

    /// A name exists if it is the zone's top, owns a record, or has a record below it (an
    /// "empty non-terminal": RFC 8020 says such a name is not NXDOMAIN).
    fn exists(&self, name: &Name) -> bool {
        self.origin == *name || self.records.iter().any(|r| name.zone_of(&r.name))
    }
}

/// The first rule of the lab that `records` (all of a file, or its beginning) break.
fn broken(records: &[Record], origin: &Name) -> Option<String> {
    let cnames: HashSet<&Name> = records
        .iter()
        .filter(|r| r.record_type() == RecordType::CNAME)
        .map(|r| &r.name)
        .collect();
    records.iter().find_map(|r| problem(r, &cnames, origin))
}

/// What is wrong with `record`, in a zone at `origin` whose CNAMEs are owned by `cnames`.
fn problem(record: &Record, cnames: &HashSet<&Name>, origin: &Name) -> Option<String> {
    let name = &record.name;
    let rtype = record.record_type();
    if !origin.zone_of(name) {
        return Some(format!(
            "{name} is outside the zone {origin}: one file holds one zone (a name that should \
             be relative has a final dot, or the name needs a zone file of its own)"
        ));
    }
    if record.dns_class != DNSClass::IN {
        let class = record.dns_class;
        return Some(format!("{name}: class {class}; the lab serves IN"));
    }
    if name.is_wildcard() {
        return Some(format!("{name}: the lab serves no wildcard names"));
    }
    if rtype == RecordType::NS && name != origin {
        return Some(format!(
            "{name} NS: the lab does not delegate; NS records belong at the top ({origin})"
        ));
    }
    // RFC 1034 section 3.6.2: "If a CNAME RR is present at a node, no other data should be
    // present". The top of a zone has its SOA, so it cannot be a CNAME either.
    if rtype != RecordType::CNAME && cnames.contains(name) {
        return Some(format!(
            "{name} has a CNAME and other records; a CNAME must stand alone"
        ));
    }
    None
}

/// hickory's message, with the fix for the mistakes a class makes most.
fn explain(error: &ParseError) -> String {
    let text = error.to_string();
    let hint = match text.as_str() {
        "record ttl not specified" => "; put `$TTL 30` at the top, or a TTL in the record",
        "record name not specified" => "; the first record needs a name (`@` needs $ORIGIN first)",
        _ if text.contains("unclosed list") => "; a `(` has no `)`",
        _ if text.contains("record type string unknown") => {
            "; a record is NAME [TTL] [IN] TYPE VALUE, e.g. `mx.b A 127.0.0.2`"
        }
        _ => "",
    };
    format!("{text}{hint}")
}

/// What hickory's parser makes of a text.
enum Reading {
    Records(Vec<Record>),
    /// The text stops inside parentheses or quotes: an entry goes on past it.
    Open(ParseError),
    /// No $ORIGIN (the parser says so only at the end, and then keeps no records: a file that
    /// names its zone late has its mistakes before that reported on the $ORIGIN line).
    NoOrigin,
    Failed(ParseError),
}

impl Reading {
    fn records(&self) -> &[Record] {
        match self {
            Reading::Records(records) => records,
            _ => &[],
        }
    }
}

/// Reads `text` with hickory's parser. No path is given, so a relative `$INCLUDE` is refused.
fn read(text: &str) -> Reading {
    match Parser::new(text, None, None).parse() {
        Ok((_, sets)) => Reading::Records(
            sets.values()
                .flat_map(|set| set.records_without_rrsigs().cloned())
                .collect(),
        ),
        Err(e @ ParseError::Lexer(LexerError::UnclosedList | LexerError::UnclosedQuotedString)) => {
            Reading::Open(e)
        }
        Err(ParseError::Message("$ORIGIN was not specified")) => Reading::NoOrigin,
        Err(e) => Reading::Failed(e),
    }
}

/// How many lines `text` has (at least one, for an empty file's errors).
fn lines(text: &str) -> usize {
    text.lines().count().max(1)
}

/// The first `n` lines of `text`, with their line ends.
fn head(text: &str, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    match text.match_indices('\n').nth(n - 1) {
        Some((at, _)) => &text[..=at],
        None => text,
    }
}

/// The first `n` lines read, and as many more as finish an entry that line `n` leaves open.
fn settled(text: &str, n: usize) -> Reading {
    let mut n = n;
    loop {
        let reading = read(head(text, n));
        if n >= lines(text) || !matches!(reading, Reading::Open(_)) {
            return reading;
        }
        n += 1;
    }
}

/// The line where the entry that ends on line `n` starts (an SOA in parentheses spans lines).
fn entry_start(text: &str, n: usize) -> usize {
    let mut n = n;
    while n > 1 && matches!(read(head(text, n - 1)), Reading::Open(_)) {
        n -= 1;
    }
    n
}

/// The first line by which `found` holds for what the file says so far, `found` being true of
/// the whole file. The parser reads a file front to back and stops at the first mistake, so
/// once `found` holds for the beginning of the file it holds for every longer beginning: a
/// binary search over the number of lines finds the line in a few readings.
fn first_line(text: &str, found: impl Fn(&Reading) -> bool) -> usize {
    let (mut low, mut high) = (1, lines(text));
    while low < high {
        let middle = (low + high) / 2;
        if found(&settled(text, middle)) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    entry_start(text, low)
}

/// The zones one `postlab dns` serves, one per file.
#[derive(Debug, Clone)]
pub struct Zones {
    zones: Vec<Zone>,
}

/// How the server answers one question.
#[derive(Debug)]
pub enum Answer<'z> {
    /// NOERROR. The records (CNAMEs first, as followed); empty means NODATA.
    Records(Vec<&'z Record>),
    /// The name lies in `zone` but does not exist there.
    NxDomain { zone: &'z Zone },
    /// The name is outside every zone: not this server's to answer.
    Refused,
}

/// A CNAME chain longer than this is a loop (or a zone no one should write).
const MAX_CNAME_CHAIN: usize = 8;

impl Zones {
    /// The zones, each from its own file; two files for the same zone are an error.
    pub fn new(zones: Vec<Zone>) -> Result<Zones, String> {
        for (at, zone) in zones.iter().enumerate() {
            if zones[..at].iter().any(|z| z.origin == zone.origin) {
                return Err(format!("two zone files for {}", zone.origin));
            }
        }
        Ok(Zones { zones })
    }

    /// `test, b.test`: the zones' names, for the server's first line.
    pub fn names(&self) -> String {
        let names: Vec<String> = self.zones.iter().map(|z| shown_name(&z.origin)).collect();
        names.join(", ")
    }

    /// The zone `name` falls in (the one with the longest top), if any.
    pub fn zone_of(&self, name: &Name) -> Option<&Zone> {
        self.zones
            .iter()
            .filter(|zone| zone.origin.zone_of(name))
            .max_by_key(|zone| zone.origin.num_labels())
    }

    /// Answers "what are the `rtype` records of `name`?".
    pub fn answer(&self, name: &Name, rtype: RecordType) -> Answer<'_> {
        let mut found = Vec::new();
        let mut name = name.clone();
        name.set_fqdn(true);
        for _ in 0..MAX_CNAME_CHAIN {
            let Some(zone) = self.zone_of(&name) else {
                // The first name decides REFUSED; a CNAME pointing elsewhere ends the chain.
                return if found.is_empty() {
                    Answer::Refused
                } else {
                    Answer::Records(found)
                };
            };
            let here: Vec<&Record> = zone.records.iter().filter(|r| r.name == name).collect();
            if let [cname] = here[..] {
                if let (RData::CNAME(target), false) = (&cname.data, rtype == RecordType::CNAME) {
                    found.push(cname);
                    name = target.0.clone();
                    name.set_fqdn(true);
                    continue;
                }
            }
            if here.is_empty() && !zone.exists(&name) {
                return if found.is_empty() {
                    Answer::NxDomain { zone }
                } else {
                    Answer::Records(found)
                };
            }
            found.extend(here.into_iter().filter(|r| r.record_type() == rtype));
            return Answer::Records(found);
        }
        Answer::Records(found)
    }
}

/// `mx.b.test` for `mx.B.test.`: lower case, no final dot (`.` for the root).
pub fn shown_name(name: &Name) -> String {
    let text = name.to_lowercase().to_string();
    match text.strip_suffix('.') {
        Some("") | None => text,
        Some(short) => short.to_string(),
    }
}

#[cfg(test)]
mod tests;
