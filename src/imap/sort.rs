//! SORT (RFC 5256 §3, with ESORT's RETURN options from RFC 5267 §3): the matches of a search,
//! in the order the client asks for, and the facts about each message that SORT and THREAD
//! compare.
//!
//! ```text
//! C: a1 SORT (REVERSE DATE SUBJECT) UTF-8 UNSEEN
//! S: * SORT 5 3 4 1 2
//! S: a1 OK SORT completed
//! C: a2 UID SORT RETURN (MIN COUNT) (SIZE) UTF-8 ALL
//! S: * ESEARCH (TAG "a2") UID MIN 17 COUNT 40
//! S: a2 OK SORT completed
//! ```
//!
//! Each criterion compares one fact; the first that differs decides, and messages equal on
//! all of them keep their mailbox order (§3: "an implicit sort criterion of sequence
//! number"). REVERSE turns one criterion round, never that implicit one. Strings compare
//! upper-cased (i;ascii-casemap); the empty string, a missing header, sorts first.
//!
//! Reading a message's header for these facts is most of a SORT's cost, so [`Facts`] are
//! kept per session ([`FactsCache`], keyed by the message's unique Maildir name, whose
//! content never changes) and the second SORT of a folder opens no message file. Each fact is
//! bounded in size (see the constants), an entry is at most about 1.5 KiB, and the cache at
//! most [`MAX_CACHE_BYTES`].

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;

use super::base_subject::base_subject;
use super::syntax::{expected, Cursor, Parsed};

/// `sort-key = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" / "TO"`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
}

/// `sort-criterion = ["REVERSE" SP] sort-key`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Criterion {
    pub reverse: bool,
    pub key: SortKey,
}

/// Seven keys exist, each worth giving once, with or without REVERSE.
const MAX_CRITERIA: usize = 16;

/// `sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"`
pub fn parse_criteria(c: &mut Cursor) -> Parsed<Vec<Criterion>> {
    c.expect("(")?;
    let mut criteria = Vec::new();
    loop {
        if criteria.len() == MAX_CRITERIA {
            return expected("at most 16 sort criteria");
        }
        let mut word = c.atom()?.to_ascii_uppercase();
        let reverse = word == "REVERSE";
        if reverse {
            c.sp()?;
            word = c.atom()?.to_ascii_uppercase();
        }
        let key = match word.as_str() {
            "ARRIVAL" => SortKey::Arrival,
            "CC" => SortKey::Cc,
            "DATE" => SortKey::Date,
            "FROM" => SortKey::From,
            "SIZE" => SortKey::Size,
            "SUBJECT" => SortKey::Subject,
            "TO" => SortKey::To,
            _ => return expected("a sort key: ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT or TO"),
        };
        criteria.push(Criterion { reverse, key });
        if c.eat(")") {
            return Ok(criteria);
        }
        c.sp()?;
    }
}

/// `charset = atom / quoted` (RFC 5256 §5). Whether we know it is the session's question:
/// an unknown one is a `NO [BADCHARSET]`, not a syntax error (RFC 3501 §6.4.4).
pub fn parse_charset(c: &mut Cursor) -> Parsed<String> {
    if c.peek() == Some(b'"') {
        return Ok(String::from_utf8_lossy(&c.string()?).into_owned());
    }
    c.atom()
}

/// RFC 5256 §3: US-ASCII and UTF-8 must be implemented; they are all we take.
pub fn known_charset(name: &str) -> bool {
    name.eq_ignore_ascii_case("US-ASCII") || name.eq_ignore_ascii_case("UTF-8")
}

/// A base subject longer than this is compared on its first this-many octets.
pub const MAX_SUBJECT_KEY: usize = 512;
/// An address's mailbox part longer than this is compared on its first this-many octets.
pub const MAX_ADDRESS_KEY: usize = 128;
/// A References field is read for its last this-many Message IDs, the nearest ancestors (a
/// long thread's earlier links come from its earlier messages' own fields).
pub const MAX_REFERENCES: usize = 64;

/// What SORT and THREAD compare about one message, read once from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// INTERNALDATE, seconds since 1970.
    pub arrival: i64,
    /// RFC 5256 §2.2: the `Date:` field in UTC, or INTERNALDATE if there is none to read.
    pub sent: i64,
    /// The base subject, upper-cased (`base_subject.rs`).
    pub subject: String,
    /// The subject marks a reply or forward (THREAD=REFERENCES step 5).
    pub reply: bool,
    /// The first address's mailbox part, upper-cased (RFC 5256 §3: `addr-mailbox`).
    pub from: String,
    pub to: String,
    pub cc: String,
    /// The normalised Message-ID, as a keyed hash (see [`IdHasher`]).
    pub message_id: Option<u64>,
    /// The references THREAD follows (References, else In-Reply-To's first), hashed.
    pub references: Vec<u64>,
}

/// Message IDs are kept as 64-bit hashes under a key chosen at random per session: eight
/// octets each, whatever length a peer writes, and no peer can aim for a collision.
#[derive(Clone, Default)]
pub struct IdHasher(std::collections::hash_map::RandomState);

impl IdHasher {
    fn hash(&self, id: &[u8]) -> u64 {
        let mut h = self.0.build_hasher();
        h.write(id);
        h.finish()
    }
}

impl Facts {
    /// Reads the facts from a message's octets; `arrival` is its INTERNALDATE.
    pub fn read(content: &[u8], arrival: i64, ids: &IdHasher) -> Facts {
        let header = &content[..super::header::header_end(content)];
        let parsed = mail_parser::MessageParser::default().parse_headers(header);
        let subject = parsed
            .as_ref()
            .and_then(|m| m.subject())
            .unwrap_or_default();
        let (mut subject, reply) = base_subject(subject);
        truncate(&mut subject, MAX_SUBJECT_KEY);
        let sent = parsed
            .as_ref()
            .and_then(|m| m.date())
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp())
            .unwrap_or(arrival);
        let mut facts = Facts {
            arrival,
            sent,
            subject,
            reply,
            from: String::new(),
            to: String::new(),
            cc: String::new(),
            message_id: None,
            references: Vec::new(),
        };
        let mut in_reply_to = None;
        let mut references: Option<Vec<u64>> = None;
        for (name, value) in super::header::header_fields(header) {
            let name = name.to_ascii_uppercase();
            let slot = match name.as_str() {
                "FROM" => &mut facts.from,
                "TO" => &mut facts.to,
                "CC" => &mut facts.cc,
                "MESSAGE-ID" if facts.message_id.is_none() => {
                    facts.message_id = message_ids(value).next().map(|id| ids.hash(&id));
                    continue;
                }
                "IN-REPLY-TO" if in_reply_to.is_none() => {
                    in_reply_to = message_ids(value).next().map(|id| ids.hash(&id));
                    continue;
                }
                "REFERENCES" if references.is_none() => {
                    let all: Vec<Vec<u8>> = message_ids(value).collect();
                    let last = &all[all.len().saturating_sub(MAX_REFERENCES)..];
                    references = Some(last.iter().map(|id| ids.hash(id)).collect());
                    continue;
                }
                _ => continue,
            };
            // RFC 5256 §3: the first such field, and its first address.
            if slot.is_empty() {
                *slot = first_mailbox(value);
            }
        }
        // §3 REFERENCES: a References field with no valid ID counts as none.
        facts.references = match references {
            Some(refs) if !refs.is_empty() => refs,
            _ => in_reply_to.into_iter().collect(),
        };
        facts
    }
}

/// The `addr-mailbox` (RFC 3501 §9) of the first address of a field, upper-cased: for a
/// group, its name, as ENVELOPE's first entry would have it.
fn first_mailbox(value: &[u8]) -> String {
    use super::address::Item;
    let mut mailbox = match super::address::parse(&String::from_utf8_lossy(value))
        .into_iter()
        .next()
    {
        Some(Item::Address { mailbox, .. }) | Some(Item::GroupStart(mailbox)) => {
            mailbox.to_uppercase()
        }
        _ => return String::new(),
    };
    truncate(&mut mailbox, MAX_ADDRESS_KEY);
    // A field with no address at all is "absent" (empty); a space keeps a real one apart.
    if mailbox.is_empty() {
        mailbox.push(' ');
    }
    mailbox
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let end = text.floor_char_boundary(max);
        text.truncate(end);
    }
}

/// The Message IDs in a field (`msg-id = "<" id-left "@" id-right ">"`, RFC 5322 §3.6.4),
/// normalised as RFC 5256 §3 asks: quoting and escapes removed, so `<"a b"@x>` and `<a b@x>`
/// are one ID, and comments and white space outside the brackets ignored. An ID without `@`
/// is not valid and is skipped.
pub fn message_ids(value: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < value.len() {
            let open = at + value[at..].iter().position(|&b| b == b'<')?;
            let close = open + value[open..].iter().position(|&b| b == b'>')?;
            at = close + 1;
            let mut id = Vec::with_capacity(close - open);
            let mut escaped = false;
            for &b in &value[open + 1..close] {
                match b {
                    _ if escaped => {
                        id.push(b);
                        escaped = false;
                    }
                    b'\\' => escaped = true,
                    b'"' | b'\r' | b'\n' | b'\t' => {}
                    _ => id.push(b),
                }
            }
            if id.contains(&b'@') && id.first() != Some(&b'@') && id.last() != Some(&b'@') {
                return Some(id);
            }
        }
        None
    })
}

/// The facts read so far in this session, by unique Maildir name. Bounded in bytes
/// ([`MAX_CACHE_BYTES`], each entry at most about 1.5 KiB by the `MAX_…` limits above):
/// when full it starts again, so a session going through many large folders pays with
/// re-reading, never with memory.
#[derive(Default)]
pub struct FactsCache {
    pub ids: IdHasher,
    /// Shared with the command that reads them, so a SORT copies no strings.
    entries: HashMap<String, Rc<Facts>>,
    bytes: usize,
}

/// What the cache may hold per session: 10,000 typical messages take about 2 MiB.
pub const MAX_CACHE_BYTES: usize = 32 * 1024 * 1024;

impl Facts {
    /// About how much memory these facts take, with their key and the table's overhead.
    fn footprint(&self) -> usize {
        std::mem::size_of::<Facts>()
            + self.subject.len()
            + self.from.len()
            + self.to.len()
            + self.cc.len()
            + self.references.len() * 8
            + 64
    }
}

impl FactsCache {
    pub fn get(&self, unique: &str) -> Option<&Rc<Facts>> {
        self.entries.get(unique)
    }

    pub fn put(&mut self, unique: &str, facts: Rc<Facts>) {
        let size = facts.footprint() + unique.len();
        if self.bytes + size > MAX_CACHE_BYTES {
            self.entries.clear();
            self.bytes = 0;
        }
        self.bytes += size;
        self.entries.insert(unique.to_string(), facts);
    }
}

/// One message as SORT sees it: its number in the answer (sequence number or UID), its
/// position in the mailbox (the implicit last criterion), its size and facts.
pub struct Row<'a> {
    pub number: u32,
    pub seq: u32,
    pub size: u64,
    pub facts: &'a Facts,
}

/// Orders `rows` by `criteria`, then by mailbox order (RFC 5256 §3).
pub fn sort(rows: &mut [Row], criteria: &[Criterion]) {
    rows.sort_by(|a, b| {
        for criterion in criteria {
            let (x, y) = (a.facts, b.facts);
            let order = match criterion.key {
                SortKey::Arrival => x.arrival.cmp(&y.arrival),
                SortKey::Date => x.sent.cmp(&y.sent),
                SortKey::Size => a.size.cmp(&b.size),
                SortKey::Subject => x.subject.cmp(&y.subject),
                SortKey::From => x.from.cmp(&y.from),
                SortKey::To => x.to.cmp(&y.to),
                SortKey::Cc => x.cc.cmp(&y.cc),
            };
            let order = if criterion.reverse {
                order.reverse()
            } else {
                order
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        a.seq.cmp(&b.seq)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(message: &str) -> Facts {
        Facts::read(message.as_bytes(), 1_000, &IdHasher::default())
    }

    #[test]
    fn criteria_parse() {
        let parse = |s: &str| parse_criteria(&mut Cursor::new(s.as_bytes()));
        assert_eq!(
            parse("(REVERSE date subject)"),
            Ok(vec![
                Criterion {
                    reverse: true,
                    key: SortKey::Date
                },
                Criterion {
                    reverse: false,
                    key: SortKey::Subject
                },
            ])
        );
        for bad in [
            "()",
            "(BOGUS)",
            "(REVERSE)",
            "(DATE",
            "(DATE  SIZE)",
            "DATE",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(&format!("({})", vec!["SIZE"; 17].join(" "))).is_err());
    }

    /// RFC 5256 §2.2: the sent date is in UTC; without a readable Date:, INTERNALDATE.
    #[test]
    fn facts_from_a_header() {
        let f = facts(
            "From: \"Zed\" <alice@example.org>, bob@example.org\r\n\
             To: team: a@x.org, b@y.org;\r\n\
             Subject: =?UTF-8?Q?Re:_caf=C3=A9?= (fwd)\r\n\
             Date: Sun, 31 Dec 2000 16:01:33 -0800\r\n\
             Message-ID: <\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>\r\n\
             In-Reply-To: <parent@x>\r\n\r\nbody\r\n",
        );
        assert_eq!(f.sent, 978_307_293); // 1 Jan 2001 00:01:33 +0000
        assert_eq!((f.subject.as_str(), f.reply), ("CAFÉ", true));
        assert_eq!(
            (f.from.as_str(), f.to.as_str(), f.cc.as_str()),
            ("ALICE", "TEAM", "")
        );
        let ids = IdHasher::default();
        let same = Facts::read(
            b"Message-ID: <01KF8JCEOCBS0045PS@xxx.yyy.com>\r\n\r\n",
            0,
            &ids,
        );
        let again = Facts::read(
            b"Message-ID: <\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>\r\n\r\n",
            0,
            &ids,
        );
        assert_eq!(same.message_id, again.message_id);
        assert!(same.message_id.is_some());
        assert_eq!(f.references.len(), 1);
        let undated = facts("Date: not a date\r\nSubject: x\r\n\r\n");
        assert_eq!(undated.sent, 1_000);
    }

    #[test]
    fn message_ids_are_normalised_and_bounded() {
        let ids: Vec<Vec<u8>> =
            message_ids(b" <a@b> (comment <x@y>) <no-at> <\"q\\\"x\"@h>\r\n <@bad>").collect();
        assert_eq!(ids, [b"a@b".to_vec(), b"x@y".to_vec(), b"q\"x@h".to_vec()]);
        let many: String = (0..100_000).map(|i| format!("<{i}@x> ")).collect();
        let f = facts(&format!("References: {many}\r\n\r\n"));
        assert_eq!(f.references.len(), MAX_REFERENCES);
    }

    #[test]
    fn the_cache_is_bounded() {
        let mut cache = FactsCache::default();
        let f = facts("Subject: x\r\n\r\n");
        for i in 0..300_000 {
            cache.put(&format!("unique-{i}"), Rc::new(f.clone()));
        }
        assert!(cache.bytes <= MAX_CACHE_BYTES);
        assert!(cache.entries.len() < 300_000);
        assert!(cache.get("unique-299999").is_some());
    }

    /// RFC 5256 §3's example A283 in spirit: SUBJECT, then REVERSE DATE within a subject.
    #[test]
    fn criteria_and_the_implicit_sequence_order() {
        let mk = |subject: &str, sent: i64| Facts {
            sent,
            ..facts(&format!("Subject: {subject}\r\n\r\n"))
        };
        let all = [
            mk("b", 1),
            mk("a", 1),
            mk("Re: b", 3),
            mk("A", 2),
            mk("b", 3),
        ];
        let mut rows: Vec<Row> = all
            .iter()
            .enumerate()
            .map(|(i, f)| Row {
                number: i as u32 + 1,
                seq: i as u32 + 1,
                size: 10 - i as u64,
                facts: f,
            })
            .collect();
        let order = |rows: &[Row]| rows.iter().map(|r| r.number).collect::<Vec<_>>();
        let subject_rdate = [
            Criterion {
                reverse: false,
                key: SortKey::Subject,
            },
            Criterion {
                reverse: true,
                key: SortKey::Date,
            },
        ];
        sort(&mut rows, &subject_rdate);
        assert_eq!(order(&rows), [4, 2, 3, 5, 1]);
        sort(
            &mut rows,
            &[Criterion {
                reverse: true,
                key: SortKey::Subject,
            }],
        );
        // REVERSE does not turn the implicit sequence order round.
        assert_eq!(order(&rows), [1, 3, 5, 2, 4]);
        sort(
            &mut rows,
            &[Criterion {
                reverse: false,
                key: SortKey::Size,
            }],
        );
        assert_eq!(order(&rows), [5, 4, 3, 2, 1]);
    }
}
