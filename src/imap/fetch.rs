//! Answering FETCH (RFC 3501 §6.4.5, §7.4.2): the pieces of one message a client asked for.
//!
//! ```text
//! C: a4 FETCH 1 (FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])
//! S: * 1 FETCH (FLAGS (\Seen) RFC822.SIZE 342 BODY[HEADER.FIELDS (SUBJECT)] {18}
//! S: Subject: hello
//! S:
//! S: )
//! ```
//!
//! Sections are cut from the message's own octets, never re-encoded: `HEADER` is everything up
//! to and including the empty line, `TEXT` the rest; part numbers (`2.1`) follow the MIME tree
//! (RFC 3501 §6.4.5: a non-multipart message has one part, `1`, its body). MIME parts are found
//! with the `mail-parser` crate, which reports where each part's header and body begin and end.
//!
//! Memory: a FETCH response is made one message at a time as it is sent ([`Later`]); a
//! section that is a stretch of the message is sent from the octets read from the file
//! ([`Piece::Shared`]), not copied. A session sending FETCH data holds one message (at most
//! the size the server accepted it at, `max_message_size`), one `HEADER.FIELDS` piece and its
//! connection's buffers (`src/net.rs`), however many messages or items the command names.

use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;

use mail_parser::{MessageParser, PartType};

use super::envelope;
use super::fetch_args::{FetchItem, Section, SectionText};
use super::header::{field_lines, header_end};
use super::response::{quote, Deferred, Piece};
use super::selected::read_now;
use crate::mailbox::maildir::{Entry, Maildir};

/// A MIME part located in some octets: `header..body..end`.
#[derive(Debug, Clone, Copy)]
struct Span {
    header: usize,
    body: usize,
    end: usize,
}

/// The deepest section path followed (`1.2.1…`); deeper ones are "no such part".
const MAX_SECTION_DEPTH: usize = 64;

/// Finds part `path` (`[2, 1]` for `2.1`) in `raw`. Returns the octets the part lives in (a
/// nested message is parsed on its own) and its span in them.
fn locate<'a>(raw: &'a [u8], path: &[u32]) -> Option<(&'a [u8], Span, bool)> {
    // Each attached message on the path is one more stack frame: a path of thousands of levels
    // (a long FETCH line) must not reach the bottom of the session thread's stack.
    if path.len() > MAX_SECTION_DEPTH {
        return None;
    }
    let message = MessageParser::default().parse(raw)?;
    let mut id = 0usize;
    for (depth, &n) in path.iter().enumerate() {
        let part = message.parts.get(id)?;
        match &part.body {
            PartType::Multipart(children) => {
                id = *children.get(n as usize - 1)? as usize;
            }
            PartType::Message(_) if depth > 0 || id != 0 => {
                // Into an attached message: its own parts, numbered afresh (RFC 3501 §6.4.5).
                let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
                return locate_in_message(body, &path[depth..]);
            }
            _ if n == 1 => {} // a non-multipart has one part: its body
            _ => return None,
        }
    }
    let part = message.parts.get(id)?;
    let is_message = matches!(part.body, PartType::Message(_));
    let span = Span {
        header: part.offset_header as usize,
        body: part.offset_body as usize,
        end: (part.offset_end as usize).min(raw.len()),
    };
    Some((raw, span, is_message))
}

/// Inside an attached message: `1` is the whole of its body when it is not multipart.
fn locate_in_message<'a>(raw: &'a [u8], path: &[u32]) -> Option<(&'a [u8], Span, bool)> {
    let whole = Span {
        header: 0,
        body: header_end(raw),
        end: raw.len(),
    };
    if path.is_empty() {
        return Some((raw, whole, true));
    }
    locate(raw, path)
}

/// The header and the body of part `path` of `raw`, as they are on disk (BINARY decodes the
/// body: `binary.rs`).
pub fn part_octets<'a>(raw: &'a [u8], path: &[u32]) -> Option<(&'a [u8], &'a [u8])> {
    let (octets, span, _) = locate(raw, path)?;
    Some((
        cut(octets, span.header, span.body),
        cut(octets, span.body, span.end),
    ))
}

/// The octets of a `section` of `raw`, or `None` when the part does not exist.
pub fn section_bytes(raw: &[u8], section: &Section) -> Option<Vec<u8>> {
    section_octets(raw, section).map(Cow::into_owned)
}

/// [`section_bytes`] without a copy where the section is a stretch of `raw` (all but
/// `HEADER.FIELDS`, which picks lines out).
fn section_octets<'a>(raw: &'a [u8], section: &Section) -> Option<Cow<'a, [u8]>> {
    let (octets, span, is_message) = if section.part.is_empty() {
        let span = Span {
            header: 0,
            body: header_end(raw),
            end: raw.len(),
        };
        (raw, span, true)
    } else {
        locate(raw, &section.part)?
    };
    // For a part that is itself a message, HEADER and TEXT refer to the attached message.
    let (inner, inner_span) = if !section.part.is_empty()
        && is_message
        && matches!(
            section.text,
            Some(SectionText::Header | SectionText::Text | SectionText::HeaderFields { .. })
        ) {
        let body = cut(octets, span.body, span.end);
        (
            body,
            Span {
                header: 0,
                body: header_end(body),
                end: body.len(),
            },
        )
    } else {
        (octets, span)
    };
    let bytes = match &section.text {
        None if section.part.is_empty() => Cow::Borrowed(raw),
        None => Cow::Borrowed(cut(octets, span.body, span.end)),
        Some(SectionText::Mime) => Cow::Borrowed(cut(octets, span.header, span.body)),
        Some(SectionText::Header) => Cow::Borrowed(cut(inner, inner_span.header, inner_span.body)),
        Some(SectionText::Text) => Cow::Borrowed(cut(inner, inner_span.body, inner_span.end)),
        Some(SectionText::HeaderFields { not, fields }) => {
            let header = cut(inner, inner_span.header, inner_span.body);
            let mut out = Vec::new();
            for line in field_lines(header) {
                let name = line.split(|&b| b == b':').next().unwrap_or_default();
                let name = String::from_utf8_lossy(name);
                let listed = fields.iter().any(|f| f.eq_ignore_ascii_case(name.trim()));
                if listed != *not {
                    out.extend_from_slice(line);
                }
            }
            out.extend_from_slice(b"\r\n");
            Cow::Owned(out)
        }
    };
    Some(bytes)
}

/// `octets[start..end]`, or nothing if a damaged message gave offsets that do not fit.
fn cut(octets: &[u8], start: usize, end: usize) -> &[u8] {
    octets.get(start..end).unwrap_or_default()
}

/// `BODY[1.HEADER.FIELDS (SUBJECT)]<0>`: how the item is named in the response.
fn section_name(section: &Section, partial: Option<(u32, u32)>) -> String {
    let mut spec: Vec<String> = section.part.iter().map(u32::to_string).collect();
    match &section.text {
        None => {}
        Some(SectionText::Header) => spec.push("HEADER".into()),
        Some(SectionText::Text) => spec.push("TEXT".into()),
        Some(SectionText::Mime) => spec.push("MIME".into()),
        Some(SectionText::HeaderFields { not, fields }) => {
            let names: Vec<String> = fields
                .iter()
                .map(|f| quote(&f.to_ascii_uppercase()))
                .collect();
            let kind = if *not {
                "HEADER.FIELDS.NOT"
            } else {
                "HEADER.FIELDS"
            };
            spec.push(format!("{kind} ({})", names.join(" ")));
        }
    }
    let origin = partial
        .map(|(start, _)| format!("<{start}>"))
        .unwrap_or_default();
    format!("BODY[{}]{origin}", spec.join("."))
}

/// What FETCH needs to know about a message besides its octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub uid: u32,
    pub flags: String,
    pub size: u64,
    pub internal_date: String,
    /// RFC 7162 MODSEQ.
    pub modseq: u64,
}

/// One message's FETCH response, decided when the command runs (flags set, numbers fixed) and
/// rendered only when it is sent (`Response::Fetch`).
///
/// That is what bounds FETCH's memory: `FETCH 1:* BODY[]` reads one message at a time, sends
/// it and lets it go, instead of holding the whole folder; and each piece of a message goes out
/// as soon as it is made, so `FETCH 1 (BODY[] BODY[] …)` a thousand times over holds the
/// message once and one piece at a time, never a thousand copies.
#[derive(Debug, Clone)]
pub struct Later {
    /// The sequence number.
    pub number: usize,
    pub items: Vec<FetchItem>,
    pub known: Known,
    /// Where the message was when the command ran; if it was renamed since (a flag change in
    /// another session), it is found again by its unique name (`selected::read_now`).
    pub maildir: Maildir,
    pub entry: Entry,
    /// Set when the message has gone by the time its response is sent (expunged by another
    /// session meanwhile): nothing is sent for it, and the command's tagged reply becomes
    /// `NO [EXPUNGEISSUED]` ([`FetchDone`]; RFC 2180 §4.1.2), never invented data.
    pub missing: Rc<Cell<bool>>,
}

impl PartialEq for Later {
    fn eq(&self, other: &Later) -> bool {
        (self.number, &self.items, &self.known, &self.entry.path)
            == (other.number, &other.items, &other.known, &other.entry.path)
    }
}

impl Eq for Later {}

/// The tagged end of a FETCH, decided only once every message's response was sent: OK, or
/// `NO [EXPUNGEISSUED]` if any message was gone (at the command or while sending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchDone {
    pub tag: String,
    pub missing: Rc<Cell<bool>>,
}

impl Deferred for FetchDone {
    fn render(&self, out: &mut dyn FnMut(Piece) -> bool) {
        let response = if self.missing.get() {
            super::response::expunge_issued(&self.tag, "FETCH")
        } else {
            super::response::Response::ok(&self.tag, "FETCH completed")
        };
        out(Piece::Text(format!("{}\r\n", response.log_line())));
    }

    fn is_tagged(&self) -> bool {
        true
    }

    fn clone_box(&self) -> Box<dyn Deferred> {
        Box::new(self.clone())
    }

    fn same(&self, other: &dyn Deferred) -> bool {
        other
            .as_any()
            .downcast_ref::<FetchDone>()
            .is_some_and(|other| self == other)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Deferred for Later {
    /// The pieces after `* `, each handed to `out` as soon as it is made. The message file is
    /// read at most once, and only if an item needs its content. `out` says whether to go on:
    /// false (the client is gone) stops the work.
    fn render(&self, out: &mut dyn FnMut(Piece) -> bool) {
        // The content is read first, when an item needs it: a message gone by now gets no
        // response at all (the tagged NO says so), rather than an empty one.
        let needs_content = self.items.iter().any(FetchItem::needs_content);
        let content = if needs_content {
            match read_now(&self.maildir, &self.entry, true) {
                Ok(Some((content, _))) => Some(Rc::new(content)),
                Ok(None) | Err(_) => {
                    self.missing.set(true);
                    return;
                }
            }
        } else {
            None
        };
        if !out(Piece::Text(format!("* {} FETCH (", self.number))) {
            return;
        }
        let mut raw = || content.clone();
        render(&self.items, &self.known, &mut raw, out);
        out(Piece::Text("\r\n".into()));
    }

    fn clone_box(&self) -> Box<dyn Deferred> {
        Box::new(self.clone())
    }

    fn same(&self, other: &dyn Deferred) -> bool {
        other
            .as_any()
            .downcast_ref::<Later>()
            .is_some_and(|other| self == other)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The pieces after `* n FETCH (` for `items`, closing parenthesis included, each handed to
/// `out` as it is made, until `out` says to stop. `raw` is read only if an item needs the
/// content. ENVELOPE and BODY[STRUCTURE] are worked out once per message however often they
/// are asked for.
pub fn render(
    items: &[FetchItem],
    known: &Known,
    raw: &mut dyn FnMut() -> Option<Rc<Vec<u8>>>,
    out: &mut dyn FnMut(Piece) -> bool,
) {
    let going = std::cell::Cell::new(true);
    let mut out = |piece: Piece| {
        if going.get() {
            going.set(out(piece));
        }
    };
    let mut structure: [Option<Rc<str>>; 3] = [None, None, None];
    for (i, item) in items.iter().enumerate() {
        if !going.get() {
            return;
        }
        let space = if i == 0 { "" } else { " " };
        let text = match item {
            FetchItem::Flags => format!("{space}FLAGS {}", known.flags),
            FetchItem::Uid => format!("{space}UID {}", known.uid),
            FetchItem::ModSeq => format!("{space}MODSEQ ({})", known.modseq),
            FetchItem::Rfc822Size => format!("{space}RFC822.SIZE {}", known.size),
            FetchItem::InternalDate => {
                format!("{space}INTERNALDATE \"{}\"", known.internal_date)
            }
            FetchItem::Envelope | FetchItem::Body | FetchItem::BodyStructure => {
                let (slot, name) = match item {
                    FetchItem::Envelope => (0, "ENVELOPE"),
                    FetchItem::Body => (1, "BODY"),
                    _ => (2, "BODYSTRUCTURE"),
                };
                let value = structure[slot].get_or_insert_with(|| {
                    let content = raw().unwrap_or_default();
                    match item {
                        FetchItem::Envelope => envelope::envelope(&content),
                        _ => envelope::body_structure(&content, slot == 2),
                    }
                    .into()
                });
                format!("{space}{name} {value}")
            }
            FetchItem::Rfc822 | FetchItem::Rfc822Header | FetchItem::Rfc822Text => {
                let content = raw().unwrap_or_default();
                let end = header_end(&content);
                let (name, range) = match item {
                    FetchItem::Rfc822 => ("RFC822", 0..content.len()),
                    FetchItem::Rfc822Header => ("RFC822.HEADER", 0..end),
                    _ => ("RFC822.TEXT", end..content.len()),
                };
                out(Piece::Text(format!("{space}{name} ")));
                out(Piece::Shared { content, range });
                continue;
            }
            FetchItem::Binary { part, partial, .. } => {
                out(Piece::Text(space.to_string()));
                let content = raw().unwrap_or_default();
                super::binary::answer(&content, part, false, *partial, part_octets)
                    .into_iter()
                    .for_each(&mut out);
                continue;
            }
            FetchItem::BinarySize(part) => {
                out(Piece::Text(space.to_string()));
                let content = raw().unwrap_or_default();
                super::binary::answer(&content, part, true, None, part_octets)
                    .into_iter()
                    .for_each(&mut out);
                continue;
            }
            FetchItem::Section {
                section, partial, ..
            } => {
                let content = raw().unwrap_or_default();
                let name = section_name(section, *partial);
                // RFC 3501 §6.4.5: a part that does not exist is answered as empty.
                let Some(octets) = section_octets(&content, section) else {
                    out(Piece::Text(format!("{space}{name} NIL")));
                    continue;
                };
                let (start, length) = partial.map_or((0, usize::MAX), |(start, length)| {
                    (start as usize, length as usize)
                });
                let start = start.min(octets.len());
                let end = start.saturating_add(length).min(octets.len());
                out(Piece::Text(format!("{space}{name} ")));
                match octets {
                    Cow::Borrowed(stretch) => {
                        let range = offset_in(&content, stretch);
                        let range = range.start + start..range.start + end;
                        out(Piece::Shared {
                            content: content.clone(),
                            range,
                        });
                    }
                    Cow::Owned(bytes) => out(Piece::Literal(bytes[start..end].to_vec())),
                }
                continue;
            }
        };
        out(Piece::Text(text));
    }
    out(Piece::Text(")".into()));
}

/// Where `stretch`, a part of `whole`, lies in it.
fn offset_in(whole: &[u8], stretch: &[u8]) -> std::ops::Range<usize> {
    if stretch.is_empty() {
        return 0..0;
    }
    let start = (stretch.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    let start = start.min(whole.len());
    start..(start + stretch.len()).min(whole.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] =
        b"Subject: parts\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain\r\n\r\nfirst\r\n\
--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n\
--b2\r\nContent-Type: text/plain\r\n\r\nplain two\r\n\
--b2\r\nContent-Type: text/html\r\n\r\n<p>two</p>\r\n--b2--\r\n\
--b1--\r\n";

    fn section(part: &[u32], text: Option<SectionText>) -> Section {
        Section {
            part: part.to_vec(),
            text,
        }
    }

    #[test]
    fn sections_are_cut_from_the_message() {
        let get = |s: Section| String::from_utf8(section_bytes(MIXED, &s).unwrap()).unwrap();
        assert!(get(section(&[], Some(SectionText::Header))).ends_with("\"b1\"\r\n\r\n"));
        assert_eq!(get(section(&[1], None)), "first");
        assert_eq!(get(section(&[2, 1], None)), "plain two");
        assert_eq!(get(section(&[2, 2], None)), "<p>two</p>");
        assert_eq!(
            get(section(&[2, 1], Some(SectionText::Mime))),
            "Content-Type: text/plain\r\n\r\n"
        );
        assert_eq!(
            get(section(
                &[],
                Some(SectionText::HeaderFields {
                    not: false,
                    fields: vec!["subject".into()]
                })
            )),
            "Subject: parts\r\n\r\n"
        );
        assert!(section_bytes(MIXED, &section(&[3], None)).is_none());
        let simple = b"Subject: x\r\n\r\nbody\r\n";
        assert_eq!(
            section_bytes(simple, &section(&[1], None)).unwrap(),
            b"body\r\n"
        );
    }

    /// Damaged messages (cut anywhere) still get an answer for every section, never a panic.
    #[test]
    fn truncated_messages_never_panic() {
        for end in 0..=MIXED.len() {
            let raw = &MIXED[..end];
            for part in [&[][..], &[1], &[2], &[2, 1], &[2, 2], &[2, 1, 1], &[3]] {
                for text in [None, Some(SectionText::Header), Some(SectionText::Text)] {
                    let _ = section_bytes(raw, &section(part, text));
                }
                if !part.is_empty() {
                    let _ = section_bytes(raw, &section(part, Some(SectionText::Mime)));
                }
            }
            let _ = super::envelope::body_structure(raw, true);
            let _ = super::envelope::envelope(raw);
        }
    }
}
