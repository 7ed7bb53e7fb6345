//! The lab zone file that `postlab dns` serves, and how a query is answered from it.
//!
//! A teacher writes the classroom's DNS in a plain text file, one record per line:
//!
//! ```text
//! # The lab's DNS. Names under "test" are answered from this file.
//! zone test
//!
//! b.test        MX    10 mx.b.test        # tried first
//! b.test        MX    20 backup.b.test    # tried when mx.b.test does not answer
//! mx.b.test     A     127.0.0.2
//! mx.b.test     AAAA  ::1
//! backup.b.test A     127.0.0.3
//! c.test        A     127.0.0.4           # no MX: mail goes to this address ("implicit MX")
//! null.test     MX    0 .                 # null MX (RFC 7505): takes no mail
//! b.test        TXT   "v=spf1 -all"
//! www.b.test    CNAME mx.b.test
//! ```
//!
//! - `zone NAME` (at least one): the server is authoritative for NAME and every name under it.
//!   Every record must lie in a zone; questions about other names are REFUSED.
//! - `NAME TYPE VALUE`: TYPE is `A` (an IPv4 address), `AAAA` (IPv6), `MX` (preference, then
//!   a host name or `.`), `TXT` (the rest of the line; quotes are optional) or `CNAME` (a name).
//!   Names are written without the final dot (one is allowed), in any case.
//! - `#` starts a comment (outside quotes); blank lines are ignored.
//!
//! Answering follows RFC 1034 section 4.3.2, cut down to one server with no delegation: a name
//! with records of the type asked for gets them; a name that exists with other types gets an
//! empty answer (NODATA); a name in the zone with nothing at or under it is NXDOMAIN; a CNAME is
//! followed (RFC 1034 section 3.6.2).
//!
//! What can go wrong: a malformed line, a record outside every zone, or a CNAME beside other
//! data. Each is an error naming its line, and the server does not start.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A parsed zone file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The zones' top names (`test`), lower case, no final dot.
    pub origins: Vec<String>,
    pub records: Vec<Record>,
}

/// One line of the file: `mx.b.test A 127.0.0.2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Lower case, no final dot.
    pub name: String,
    pub data: Data,
    /// Where it was written, for error messages.
    pub line: usize,
}

/// The value of a record, by type (RFC 1035 section 3.3, RFC 3596 for AAAA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// `exchange` is `.` for a null MX.
    Mx {
        preference: u16,
        exchange: String,
    },
    Txt(String),
    Cname(String),
}

/// The record types the lab serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    A,
    Aaaa,
    Mx,
    Txt,
    Cname,
}

impl Data {
    pub fn kind(&self) -> Kind {
        match self {
            Data::A(_) => Kind::A,
            Data::Aaaa(_) => Kind::Aaaa,
            Data::Mx { .. } => Kind::Mx,
            Data::Txt(_) => Kind::Txt,
            Data::Cname(_) => Kind::Cname,
        }
    }
}

impl std::fmt::Display for Data {
    /// The value as the zone file writes it: `10 mx.b.test`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Data::A(ip) => write!(f, "A {ip}"),
            Data::Aaaa(ip) => write!(f, "AAAA {ip}"),
            Data::Mx {
                preference,
                exchange,
            } => write!(f, "MX {preference} {exchange}"),
            Data::Txt(text) => write!(f, "TXT \"{text}\""),
            Data::Cname(target) => write!(f, "CNAME {target}"),
        }
    }
}

/// A zone file line the parser could not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ZoneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// How the server answers one question.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer<'z> {
    /// NOERROR. The records (CNAMEs first, as followed); empty means NODATA.
    Records(Vec<&'z Record>),
    /// The name lies in zone `origin` but does not exist there.
    NxDomain { origin: &'z str },
    /// The name is outside every zone: not this server's to answer.
    Refused,
}

/// A CNAME chain longer than this is a loop (or a zone no one should write).
const MAX_CNAME_CHAIN: usize = 8;

impl Zone {
    /// Reads a zone file. The first bad line is the error.
    pub fn parse(text: &str) -> Result<Zone, ZoneError> {
        let mut zone = Zone {
            origins: Vec::new(),
            records: Vec::new(),
        };
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let error = |message: String| ZoneError { line, message };
            let content = strip_comment(raw).trim();
            if content.is_empty() {
                continue;
            }
            let (first, rest) = split_word(content);
            if first.eq_ignore_ascii_case("zone") {
                let origin = domain(rest.trim()).map_err(error)?;
                if !zone.origins.contains(&origin) {
                    zone.origins.push(origin);
                }
                continue;
            }
            let name = domain(first).map_err(error)?;
            let (kind, value) = split_word(rest.trim_start());
            let data = parse_data(kind, value.trim()).map_err(error)?;
            zone.records.push(Record { name, data, line });
        }
        zone.check()?;
        Ok(zone)
    }

    /// Rules that need the whole file: zones declared, records inside them, CNAMEs alone.
    fn check(&self) -> Result<(), ZoneError> {
        let Some(first) = self.records.first() else {
            if self.origins.is_empty() {
                return Err(ZoneError {
                    line: 1,
                    message: "no `zone NAME` line and no records: nothing to serve".into(),
                });
            }
            return Ok(());
        };
        if self.origins.is_empty() {
            return Err(ZoneError {
                line: first.line,
                message: "no `zone NAME` line: say which names this server answers for, \
                          e.g. `zone test`"
                    .into(),
            });
        }
        for record in &self.records {
            let error = |message: String| ZoneError {
                line: record.line,
                message,
            };
            if self.origin_of(&record.name).is_none() {
                return Err(error(format!(
                    "{} is outside the zones ({}); add a `zone` line for it",
                    record.name,
                    self.origins.join(", ")
                )));
            }
            // RFC 1034 section 3.6.2: "If a CNAME RR is present at a node, no other data
            // should be present"; and the top of a zone has its SOA record.
            let is_cname = record.data.kind() == Kind::Cname;
            let clash = self.records.iter().find(|other| {
                other.line < record.line
                    && other.name == record.name
                    && (is_cname || other.data.kind() == Kind::Cname)
            });
            if let Some(other) = clash {
                return Err(error(format!(
                    "{} has a CNAME and other records (line {}); a CNAME must stand alone",
                    record.name, other.line
                )));
            }
            if is_cname && self.origins.contains(&record.name) {
                return Err(error(format!(
                    "{} is the top of a zone and cannot be a CNAME",
                    record.name
                )));
            }
        }
        Ok(())
    }

    /// The zone `name` falls in (the longest matching origin), if any.
    pub fn origin_of(&self, name: &str) -> Option<&str> {
        self.origins
            .iter()
            .filter(|origin| is_at_or_under(name, origin))
            .max_by_key(|origin| origin.len())
            .map(String::as_str)
    }

    /// Answers "what are the `kind` records of `name`?" (`kind` `None`: a type the lab does
    /// not serve, which gets NODATA where the name exists). `name` is lower case, no final dot.
    pub fn answer(&self, name: &str, kind: Option<Kind>) -> Answer<'_> {
        let mut found = Vec::new();
        let mut name = name;
        for _ in 0..MAX_CNAME_CHAIN {
            let Some(origin) = self.origin_of(name) else {
                // The first name decides REFUSED; a CNAME pointing elsewhere ends the chain.
                return if found.is_empty() {
                    Answer::Refused
                } else {
                    Answer::Records(found)
                };
            };
            let here: Vec<&Record> = self.records.iter().filter(|r| r.name == name).collect();
            match here.as_slice() {
                [cname] if cname.data.kind() == Kind::Cname && kind != Some(Kind::Cname) => {
                    found.push(*cname);
                    if let Data::Cname(target) = &cname.data {
                        name = target;
                    }
                    continue;
                }
                _ => {}
            }
            if here.is_empty() && !self.exists(name) {
                return if found.is_empty() {
                    Answer::NxDomain { origin }
                } else {
                    Answer::Records(found)
                };
            }
            found.extend(here.into_iter().filter(|r| Some(r.data.kind()) == kind));
            return Answer::Records(found);
        }
        Answer::Records(found)
    }

    /// A name exists if it is a zone's top, owns a record, or has a record below it (an
    /// "empty non-terminal": RFC 8020 says such a name is not NXDOMAIN).
    fn exists(&self, name: &str) -> bool {
        self.origins.iter().any(|origin| origin == name)
            || self.records.iter().any(|r| is_at_or_under(&r.name, name))
    }
}

/// `mx.b.test` is under `b.test` and `test`; `b.test` is at `b.test`; `ab.test` is not under
/// `b.test`.
fn is_at_or_under(name: &str, origin: &str) -> bool {
    name == origin
        || name
            .strip_suffix(origin)
            .is_some_and(|head| head.ends_with('.'))
}

/// The value part of a record line, by its type.
///
/// ```text
/// A 127.0.0.2 | AAAA ::1 | MX 10 mx.b.test | MX 0 . | TXT "any text" | CNAME mx.b.test
/// ```
fn parse_data(kind: &str, value: &str) -> Result<Data, String> {
    let one_word = |what: &str| -> Result<&str, String> {
        match value.split_whitespace().collect::<Vec<_>>().as_slice() {
            [word] => Ok(word),
            _ => Err(format!("{kind} takes one value: {what}")),
        }
    };
    match kind.to_ascii_uppercase().as_str() {
        "A" => one_word("an IPv4 address like 127.0.0.2")?
            .parse()
            .map(Data::A)
            .map_err(|_| format!("'{value}' is not an IPv4 address (like 127.0.0.2)")),
        "AAAA" => one_word("an IPv6 address like ::1")?
            .parse()
            .map(Data::Aaaa)
            .map_err(|_| format!("'{value}' is not an IPv6 address (like ::1)")),
        "MX" => {
            let usage = "MX takes a preference and a host: `MX 10 mx.b.test` (or `MX 0 .`)";
            let [preference, exchange] = value.split_whitespace().collect::<Vec<_>>()[..] else {
                return Err(usage.into());
            };
            let preference = preference
                .parse()
                .map_err(|_| format!("MX preference '{preference}' is not 0..65535; {usage}"))?;
            let exchange = if exchange == "." {
                ".".to_string()
            } else {
                domain(exchange)?
            };
            Ok(Data::Mx {
                preference,
                exchange,
            })
        }
        "TXT" => {
            let text = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            // RFC 1035 section 3.3.14: a TXT record is character-strings of up to 255 octets
            // each; one string is enough for a lab.
            if text.len() > 255 {
                return Err("TXT text is longer than 255 characters".into());
            }
            Ok(Data::Txt(text.to_string()))
        }
        "CNAME" => Ok(Data::Cname(domain(one_word("a name like mx.b.test")?)?)),
        "" => Err("a record needs a type and a value: `NAME TYPE VALUE`".into()),
        other => Err(format!(
            "unknown type '{other}' (the lab serves A, AAAA, MX, TXT and CNAME)"
        )),
    }
}

/// A domain name as the file may write it, made lower case without the final dot.
///
/// RFC 1035 section 2.3.4: labels of 1 to 63 octets, 255 octets in all. Labels here are
/// letters, digits, `-` and `_` (for names like `_dmarc.b.test`).
fn domain(text: &str) -> Result<String, String> {
    let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    let good_label = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(good_label) {
        return Err(format!("'{text}' is not a domain name"));
    }
    Ok(name)
}

/// The line without its `#` comment; a `#` inside double quotes is text.
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (at, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..at],
            _ => {}
        }
    }
    line
}

/// The first word and what follows it.
fn split_word(text: &str) -> (&str, &str) {
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], &text[at..]),
        None => (text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: &str = "\
# a comment line
zone test
b.test        MX    20 backup.b.test
b.test        MX    10 MX.B.Test.      # case and final dot do not matter
mx.b.test     A     127.0.0.2
mx.b.test     AAAA  ::1
backup.b.test A     127.0.0.3
c.test        A     127.0.0.4
null.test     MX    0 .
b.test        TXT   \"v=spf1 -all # not a comment\"
www.b.test    CNAME mx.b.test
out.b.test    CNAME mail.example
deep.x.test   A     127.0.0.5
";

    fn lab() -> Zone {
        Zone::parse(LAB).unwrap()
    }

    #[test]
    fn parses_every_type() {
        let zone = lab();
        assert_eq!(zone.origins, ["test"]);
        let data: Vec<String> = zone.records.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(
            data,
            [
                "MX 20 backup.b.test",
                "MX 10 mx.b.test",
                "A 127.0.0.2",
                "AAAA ::1",
                "A 127.0.0.3",
                "A 127.0.0.4",
                "MX 0 .",
                "TXT \"v=spf1 -all # not a comment\"",
                "CNAME mx.b.test",
                "CNAME mail.example",
                "A 127.0.0.5",
            ]
        );
        assert_eq!(zone.records[1].line, 4);
    }

    #[test]
    fn bad_lines_are_rejected_with_their_line_number() {
        let table: &[(&str, usize, &str)] = &[
            ("zone test\nb.test MX ten mx.b.test\n", 2, "preference"),
            ("zone test\nb.test MX 10\n", 2, "preference and a host"),
            ("zone test\n\nmx.b.test A 300.1.1.1\n", 3, "IPv4"),
            (
                "zone test\nmx.b.test A 127.0.0.1 127.0.0.2\n",
                2,
                "one value",
            ),
            ("zone test\nmx.b.test AAAA 127.0.0.1\n", 2, "IPv6"),
            ("zone test\nb.test SRV 1 2 3 x\n", 2, "unknown type"),
            ("zone test\nb.test\n", 2, "needs a type"),
            ("zone test\nb..test A 127.0.0.1\n", 2, "not a domain"),
            ("zone test\nb.test MX 10 bad!host\n", 2, "not a domain"),
            ("zone test\nb.example A 127.0.0.1\n", 2, "outside the zones"),
            ("b.test A 127.0.0.1\n", 1, "no `zone NAME` line"),
            ("# empty\n", 1, "nothing to serve"),
            (
                "zone test\nw.test A 127.0.0.1\nw.test CNAME x.test\n",
                3,
                "CNAME",
            ),
            (
                "zone test\nw.test CNAME x.test\nw.test A 127.0.0.1\n",
                3,
                "CNAME",
            ),
            ("zone test\ntest CNAME x.test\n", 2, "top of a zone"),
        ];
        for (text, line, words) in table {
            let err = Zone::parse(text).unwrap_err();
            assert_eq!(err.line, *line, "{text:?}: {err}");
            assert!(err.message.contains(words), "{text:?}: {err}");
        }
    }

    fn shown(answer: Answer<'_>) -> Vec<String> {
        match answer {
            Answer::Records(records) => records
                .iter()
                .map(|r| format!("{} {}", r.name, r.data))
                .collect(),
            other => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn answers_records_nodata_nxdomain_and_refused() {
        let zone = lab();
        let table: &[(&str, Option<Kind>, &[&str])] = &[
            (
                "b.test",
                Some(Kind::Mx),
                &["b.test MX 20 backup.b.test", "b.test MX 10 mx.b.test"],
            ),
            ("mx.b.test", Some(Kind::Aaaa), &["mx.b.test AAAA ::1"]),
            // c.test exists (it has an A record) but has no MX: NODATA, an empty answer.
            ("c.test", Some(Kind::Mx), &[]),
            // x.test owns nothing but deep.x.test lies under it: it exists, no data.
            ("x.test", Some(Kind::A), &[]),
            ("test", Some(Kind::Mx), &[]),
            ("b.test", None, &[]),
            (
                "nope.test",
                Some(Kind::Mx),
                &["NxDomain { origin: \"test\" }"],
            ),
            ("b.example", Some(Kind::Mx), &["Refused"]),
            ("atest", Some(Kind::A), &["Refused"]),
            (
                "www.b.test",
                Some(Kind::A),
                &["www.b.test CNAME mx.b.test", "mx.b.test A 127.0.0.2"],
            ),
            (
                "www.b.test",
                Some(Kind::Cname),
                &["www.b.test CNAME mx.b.test"],
            ),
            // A CNAME to a name outside the zone: the client follows it elsewhere.
            (
                "out.b.test",
                Some(Kind::A),
                &["out.b.test CNAME mail.example"],
            ),
        ];
        for (name, kind, want) in table {
            assert_eq!(shown(zone.answer(name, *kind)), *want, "{name} {kind:?}");
        }
    }

    #[test]
    fn a_cname_loop_ends() {
        let zone = Zone::parse("zone test\na.test CNAME b.test\nb.test CNAME a.test\n").unwrap();
        let Answer::Records(records) = zone.answer("a.test", Some(Kind::A)) else {
            panic!("a loop is still an answer");
        };
        assert_eq!(records.len(), MAX_CNAME_CHAIN);
    }

    #[test]
    fn the_longest_zone_wins() {
        let zone = Zone::parse("zone test\nzone b.test\nmx.b.test A 127.0.0.2\n").unwrap();
        assert_eq!(zone.origin_of("mx.b.test"), Some("b.test"));
        assert_eq!(zone.origin_of("c.test"), Some("test"));
        assert_eq!(zone.origin_of("example"), None);
    }
}
