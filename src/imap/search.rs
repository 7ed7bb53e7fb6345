//! SEARCH (RFC 3501 §6.4.4): the keys, their grammar, and how one message is tested.
//!
//! ```text
//! C: a7 SEARCH UNSEEN FROM "alice" SINCE 1-Nov-2026
//! S: * SEARCH 2 5
//! C: a8 UID SEARCH OR FLAGGED LARGER 10000 NOT DELETED
//! S: * SEARCH 17 40
//! ```
//!
//! Keys side by side must all match (AND); `OR a b` and `NOT a` combine them. String keys match
//! a substring, ignoring ASCII case, as the RFC allows. FROM, TO, CC and BCC look in the
//! addresses as ENVELOPE has them (`address.rs`: comments are not part of an address), HEADER
//! in the raw field. Dates compare the day of the internal date (SINCE/BEFORE/ON), or the
//! date written in the `Date:` header (SENTSINCE/…): its own day, whatever its time and zone
//! (§6.4.4: "disregarding time and timezone").

use super::flags::{self, Flags};
use super::syntax::{days_from_civil, expected, Cursor, Parsed, SequenceSet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    And(Vec<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    Not(Box<SearchKey>),
    /// A system flag must be set.
    Flag(Flags),
    /// `NEW` = RECENT UNSEEN; `RECENT`; `OLD` is `Not(Recent)`.
    Recent,
    /// A keyword (`$Forwarded`) is set; compared ignoring case.
    Keyword(String),
    /// A header field contains the text (`SUBJECT`, `HEADER f s`).
    Header(String, String),
    /// An address of the field contains the text (`FROM`, `TO`, `CC`, `BCC`).
    Address(String, String),
    Body(String),
    Text(String),
    /// Days since 1970 of the internal date: before, on, since.
    Before(i64),
    On(i64),
    Since(i64),
    SentBefore(i64),
    SentOn(i64),
    SentSince(i64),
    Larger(u32),
    Smaller(u32),
    Uid(SequenceSet),
    Sequence(SequenceSet),
    /// RFC 7162 §3.1.5: a MODSEQ at least this.
    ModSeq(u64),
}

impl SearchKey {
    /// Does the search use MODSEQ (so the answer ends with `(MODSEQ n)`, RFC 7162 §3.1.6)?
    pub fn uses_modseq(&self) -> bool {
        match self {
            SearchKey::ModSeq(_) => true,
            SearchKey::And(keys) => keys.iter().any(SearchKey::uses_modseq),
            SearchKey::Or(a, b) => a.uses_modseq() || b.uses_modseq(),
            SearchKey::Not(k) => k.uses_modseq(),
            _ => false,
        }
    }
}

/// `1*(SP search-key)` after the command name: the keys, ANDed.
pub fn parse_keys(c: &mut Cursor) -> Parsed<SearchKey> {
    let mut keys = vec![search_key(c, 0)?];
    while c.eat(" ") {
        keys.push(search_key(c, 0)?);
    }
    let key = if keys.len() == 1 {
        keys.remove(0)
    } else {
        SearchKey::And(keys)
    };
    if key.count() > MAX_KEYS {
        return expected("at most 256 search keys");
    }
    Ok(key)
}

/// Every key is tried on every message, and TEXT or BODY reads the whole message, so the
/// work of one SEARCH grows as keys × messages × size. A real client's search has a few
/// dozen keys at most (a filter's OR chain); a 64 KiB line could carry 16,000.
const MAX_KEYS: usize = 256;

impl SearchKey {
    /// How many keys this is, counting every key inside AND, OR and NOT.
    fn count(&self) -> usize {
        match self {
            SearchKey::And(keys) => keys.iter().map(SearchKey::count).sum(),
            SearchKey::Or(a, b) => 1 + a.count() + b.count(),
            SearchKey::Not(k) => 1 + k.count(),
            _ => 1,
        }
    }
}

/// Deep nesting of NOT/OR/parentheses is refused rather than allowed to exhaust the stack.
const MAX_DEPTH: usize = 32;

/// `search-key = "ALL" / "ANSWERED" / "BCC" SP astring / … / "(" search-key *(SP search-key) ")"`
fn search_key(c: &mut Cursor, depth: usize) -> Parsed<SearchKey> {
    use SearchKey::*;
    if depth > MAX_DEPTH {
        return expected("less deeply nested search keys");
    }
    if c.eat("(") {
        let mut keys = vec![search_key(c, depth + 1)?];
        while !c.eat(")") {
            c.sp()?;
            keys.push(search_key(c, depth + 1)?);
        }
        return Ok(And(keys));
    }
    // `$` (RFC 5182): the saved result, as a set of messages like any other.
    if c.peek()
        .is_some_and(|b| b.is_ascii_digit() || b == b'*' || b == b'$')
    {
        return Ok(Sequence(c.sequence_set()?));
    }
    let name = c.atom()?.to_ascii_uppercase();
    let arg = |c: &mut Cursor| -> Parsed<String> {
        c.sp()?;
        c.astring()
    };
    let flag = |f: Flags| Flag(f);
    let not = |k: SearchKey| Not(Box::new(k));
    Ok(match name.as_str() {
        "ALL" => All,
        "ANSWERED" => flag(flags::ANSWERED),
        "DELETED" => flag(flags::DELETED),
        "DRAFT" => flag(flags::DRAFT),
        "FLAGGED" => flag(flags::FLAGGED),
        "SEEN" => flag(flags::SEEN),
        "UNANSWERED" => not(flag(flags::ANSWERED)),
        "UNDELETED" => not(flag(flags::DELETED)),
        "UNDRAFT" => not(flag(flags::DRAFT)),
        "UNFLAGGED" => not(flag(flags::FLAGGED)),
        "UNSEEN" => not(flag(flags::SEEN)),
        "RECENT" => Recent,
        "NEW" => And(vec![Recent, not(flag(flags::SEEN))]),
        "OLD" => not(Recent),
        "KEYWORD" => {
            c.sp()?;
            Keyword(c.atom()?)
        }
        "UNKEYWORD" => {
            c.sp()?;
            not(Keyword(c.atom()?))
        }
        "FROM" | "TO" | "CC" | "BCC" => Address(name.clone(), arg(c)?),
        "SUBJECT" => Header(name.clone(), arg(c)?),
        "HEADER" => {
            let field = arg(c)?;
            Header(field.to_ascii_uppercase(), arg(c)?)
        }
        "BODY" => Body(arg(c)?),
        "TEXT" => Text(arg(c)?),
        "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" => {
            c.sp()?;
            let day = c.date()?;
            match name.as_str() {
                "BEFORE" => Before(day),
                "ON" => On(day),
                "SINCE" => Since(day),
                "SENTBEFORE" => SentBefore(day),
                "SENTON" => SentOn(day),
                _ => SentSince(day),
            }
        }
        "LARGER" | "SMALLER" => {
            c.sp()?;
            let n = c.number(false)?;
            if name == "LARGER" {
                Larger(n)
            } else {
                Smaller(n)
            }
        }
        "MODSEQ" => ModSeq(super::condstore_args::search_modseq(c)?),
        "UID" => {
            c.sp()?;
            Uid(c.sequence_set()?)
        }
        "NOT" => {
            c.sp()?;
            not(search_key(c, depth + 1)?)
        }
        "OR" => {
            c.sp()?;
            let a = search_key(c, depth + 1)?;
            c.sp()?;
            let b = search_key(c, depth + 1)?;
            Or(Box::new(a), Box::new(b))
        }
        _ => return expected("a search key such as ALL, UNSEEN, FROM \"x\", SINCE 1-Nov-2026"),
    })
}

/// What a search knows about one message. The content is read only if a key needs it.
pub struct Candidate<'a> {
    pub seq: u32,
    pub uid: u32,
    pub flags: Flags,
    pub recent: bool,
    pub keywords: Vec<&'a str>,
    pub size: u64,
    /// Internal date, days since 1970.
    pub day: i64,
    pub largest_seq: u32,
    pub largest_uid: u32,
    pub modseq: u64,
    pub content: &'a mut dyn FnMut() -> Option<std::rc::Rc<Vec<u8>>>,
}

impl SearchKey {
    pub fn matches(&self, m: &mut Candidate) -> bool {
        use SearchKey::*;
        match self {
            All => true,
            And(keys) => keys.iter().all(|k| k.matches(m)),
            Or(a, b) => a.matches(m) || b.matches(m),
            Not(k) => !k.matches(m),
            Flag(f) => m.flags.has(*f),
            Recent => m.recent,
            Keyword(k) => m.keywords.iter().any(|have| have.eq_ignore_ascii_case(k)),
            Before(d) => m.day < *d,
            On(d) => m.day == *d,
            Since(d) => m.day >= *d,
            Larger(n) => m.size > u64::from(*n),
            Smaller(n) => m.size < u64::from(*n),
            Uid(set) => set.contains(m.uid, m.largest_uid),
            ModSeq(n) => m.modseq >= *n,
            Sequence(set) => set.contains(m.seq, m.largest_seq),
            Header(field, text) => (m.content)().is_some_and(|c| header_contains(&c, field, text)),
            Address(field, text) => {
                (m.content)().is_some_and(|c| address_contains(&c, field, text))
            }
            Body(text) => (m.content)().is_some_and(|c| contains(body_of(&c), text)),
            Text(text) => (m.content)().is_some_and(|c| contains(&c, text)),
            SentBefore(d) | SentOn(d) | SentSince(d) => {
                let Some(sent) = (m.content)().and_then(|c| sent_day(&c)) else {
                    return false;
                };
                match self {
                    SentBefore(_) => sent < *d,
                    SentOn(_) => sent == *d,
                    _ => sent >= *d,
                }
            }
        }
    }
}

/// The body: everything after the first empty line.
fn body_of(message: &[u8]) -> &[u8] {
    let end = super::header::header_end(message);
    &message[end..]
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Does any `field:` header (unfolded) contain `text`?
fn header_contains(message: &[u8], field: &str, text: &str) -> bool {
    super::header::header_fields(message)
        .into_iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(field))
        .any(|(_, value)| contains(value, text))
}

/// Does an address of any `field:` header contain `text`?
fn address_contains(message: &[u8], field: &str, text: &str) -> bool {
    super::header::header_fields(message)
        .into_iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(field))
        .flat_map(|(_, value)| super::address::searchable(&String::from_utf8_lossy(value)))
        .any(|address| contains(address.as_bytes(), text))
}

/// The day written in the `Date:` header (read by the MIME parser), as days since 1970: the
/// date as the sender wrote it, not moved to UTC (`Sat, 01 Feb 2007 01:02:03 +0200` is
/// 1-Feb-2007, though in UTC it was still 31 January).
fn sent_day(message: &[u8]) -> Option<i64> {
    let parsed = mail_parser::MessageParser::default().parse_headers(message)?;
    let date = parsed.date()?;
    Some(days_from_civil(
        i64::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_dates_are_the_day_the_sender_wrote() {
        let early = b"Date: Sat, 01 Feb 2007 01:02:03 +0200\r\n\r\n";
        assert_eq!(sent_day(early), Some(days_from_civil(2007, 2, 1)));
        let late = b"Date: Thu, 31 Jan 2007 23:30:00 -0500\r\n\r\n";
        assert_eq!(sent_day(late), Some(days_from_civil(2007, 1, 31)));
    }
}
