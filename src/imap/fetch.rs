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

use mail_parser::{MessageParser, PartType};

use super::envelope;
use super::fetch_args::{FetchItem, Section, SectionText};
use super::header::{field_lines, header_end};
use super::response::{quote, Piece};

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

/// The octets of a `section` of `raw`, or `None` when the part does not exist.
pub fn section_bytes(raw: &[u8], section: &Section) -> Option<Vec<u8>> {
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
        None if section.part.is_empty() => raw.to_vec(),
        None => cut(octets, span.body, span.end).to_vec(),
        Some(SectionText::Mime) => cut(octets, span.header, span.body).to_vec(),
        Some(SectionText::Header) => cut(inner, inner_span.header, inner_span.body).to_vec(),
        Some(SectionText::Text) => cut(inner, inner_span.body, inner_span.end).to_vec(),
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
            out
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
pub struct Known {
    pub uid: u32,
    pub flags: String,
    pub size: u64,
    pub internal_date: String,
}

/// The pieces after `* n FETCH (` for `items` (the caller adds the closing parenthesis).
/// `raw` is read only if an item needs the content.
pub fn render(
    items: &[FetchItem],
    known: &Known,
    raw: &mut dyn FnMut() -> Option<std::rc::Rc<Vec<u8>>>,
) -> Vec<Piece> {
    let mut pieces: Vec<Piece> = Vec::new();
    let mut text = String::new();
    let mut first = true;
    for item in items {
        if !first {
            text.push(' ');
        }
        first = false;
        match item {
            FetchItem::Flags => text.push_str(&format!("FLAGS {}", known.flags)),
            FetchItem::Uid => text.push_str(&format!("UID {}", known.uid)),
            FetchItem::Rfc822Size => text.push_str(&format!("RFC822.SIZE {}", known.size)),
            FetchItem::InternalDate => {
                text.push_str(&format!("INTERNALDATE \"{}\"", known.internal_date))
            }
            FetchItem::Envelope => {
                let content = raw().unwrap_or_default();
                text.push_str(&format!("ENVELOPE {}", envelope::envelope(&content)));
            }
            FetchItem::Body | FetchItem::BodyStructure => {
                let content = raw().unwrap_or_default();
                let extended = matches!(item, FetchItem::BodyStructure);
                let name = if extended { "BODYSTRUCTURE" } else { "BODY" };
                text.push_str(&format!(
                    "{name} {}",
                    envelope::body_structure(&content, extended)
                ));
            }
            FetchItem::Rfc822 | FetchItem::Rfc822Header | FetchItem::Rfc822Text => {
                let content = raw().unwrap_or_default();
                let end = header_end(&content);
                let (name, bytes) = match item {
                    FetchItem::Rfc822 => ("RFC822", &content[..]),
                    FetchItem::Rfc822Header => ("RFC822.HEADER", &content[..end]),
                    _ => ("RFC822.TEXT", &content[end..]),
                };
                text.push_str(&format!("{name} "));
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Literal(bytes.to_vec()));
            }
            FetchItem::Section {
                section, partial, ..
            } => {
                let content = raw().unwrap_or_default();
                text.push_str(&section_name(section, *partial));
                text.push(' ');
                match section_bytes(&content, section) {
                    Some(mut bytes) => {
                        if let Some((start, length)) = partial {
                            let start = (*start as usize).min(bytes.len());
                            let end = start.saturating_add(*length as usize).min(bytes.len());
                            bytes = bytes[start..end].to_vec();
                        }
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                        pieces.push(Piece::Literal(bytes));
                    }
                    // RFC 3501 §6.4.5: a part that does not exist is answered as empty.
                    None => text.push_str("NIL"),
                }
            }
        }
    }
    text.push(')');
    pieces.push(Piece::Text(text));
    pieces
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
