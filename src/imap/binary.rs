//! BINARY (RFC 3516): a MIME part sent decoded, so a client fetching a photo gets its octets
//! rather than base64 it must undo, and knows its true size before it asks.
//!
//! ```text
//! C: a1 FETCH 3 (BINARY.SIZE[2] BINARY.PEEK[2]<0.1024>)
//! S: * 3 FETCH (BINARY.SIZE[2] 51200 BINARY[2]<0> ~{1024}
//! S: …1024 octets, some of them NUL…
//! S: )
//! C: a2 FETCH 4 BINARY[1]
//! S: a2 NO [UNKNOWN-CTE] Part 1 is in an encoding postlab cannot decode: x-uuencode
//! ```
//!
//! Only the Content-Transfer-Encoding is undone (base64, quoted-printable; 7bit, 8bit and
//! binary are already the octets), never the charset. Decoded octets may hold NUL, which a
//! plain literal may not (RFC 3501 §4.3), so they travel as a `literal8`, `~{n}` (§4.2 of
//! RFC 3516), exactly when they do. `BINARY[]` is the whole message as it is: its header is
//! not encoded, and each part of a multipart keeps its own encoding (ask for the part).
//!
//! The client sends binary content the same way, `~{n}` in APPEND (`ext_args.rs`); framing
//! sees the `{n}` and gives it the limits of any literal.

use std::borrow::Cow;

use super::fetch_args::FetchItem;
use super::header::header_fields;
use super::response::{Piece, Response};
use super::selected::read_now;
use super::session::Session;
use super::syntax::SequenceSet;

/// A Content-Transfer-Encoding (RFC 2045 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// 7bit, 8bit, binary, or none given: the octets are the content.
    Identity,
    Base64,
    QuotedPrintable,
}

/// The encoding a part's header names, or its name if it is one we cannot undo.
fn encoding(header: &[u8]) -> Result<Encoding, String> {
    let Some((_, value)) = header_fields(header)
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("Content-Transfer-Encoding"))
    else {
        return Ok(Encoding::Identity);
    };
    let value = String::from_utf8_lossy(value);
    // A comment may follow the token (RFC 2045 §6.1 allows CFWS around it).
    let token = value.split('(').next().unwrap_or_default().trim();
    match token.to_ascii_lowercase().as_str() {
        "" | "7bit" | "8bit" | "binary" => Ok(Encoding::Identity),
        "base64" => Ok(Encoding::Base64),
        "quoted-printable" => Ok(Encoding::QuotedPrintable),
        other => Err(other.chars().take(40).collect()),
    }
}

/// Does a part with this header carry its octets as they are (7bit, 8bit, binary, or no
/// Content-Transfer-Encoding at all)? `append_binary.rs` re-encodes only such parts.
pub fn identity_encoded(header: &[u8]) -> bool {
    encoding(header) == Ok(Encoding::Identity)
}

/// How to find part `path` of a message: its header and body octets, or `None`. This is
/// `fetch::part_octets`, handed in by the caller so that this file and `fetch.rs` (which
/// calls [`answer`]) do not reach into each other (`tests/house.rs`).
pub type Locate = for<'a> fn(&'a [u8], &[u32]) -> Option<(&'a [u8], &'a [u8])>;

/// Why a part cannot be sent decoded: `NO [UNKNOWN-CTE]` (RFC 3516 §4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCte(pub String);

/// The decoded content of part `path` of `raw` (`[]`: the whole message). `Ok(None)`: no such
/// part, answered NIL as BODY[] answers it.
pub fn decoded<'a>(
    raw: &'a [u8],
    path: &[u32],
    locate: Locate,
) -> Result<Option<Cow<'a, [u8]>>, UnknownCte> {
    if path.is_empty() {
        return Ok(Some(Cow::Borrowed(raw)));
    }
    let Some((header, body)) = locate(raw, path) else {
        return Ok(None);
    };
    let name = || {
        path.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".")
    };
    match encoding(header) {
        Ok(Encoding::Identity) => Ok(Some(Cow::Borrowed(body))),
        Ok(Encoding::Base64) => mail_parser::decoders::base64::base64_decode(body)
            .map(|bytes| Some(Cow::Owned(bytes)))
            .ok_or_else(|| UnknownCte(format!("Part {} is damaged base64", name()))),
        Ok(Encoding::QuotedPrintable) => Ok(Some(Cow::Owned(quoted_printable(body)))),
        Err(other) => Err(UnknownCte(format!(
            "Part {} is in an encoding postlab cannot decode: {other}",
            name()
        ))),
    }
}

/// Quoted-printable (RFC 2045 §6.7) undone: `=XX` is the octet XX, `=` at a line's end (white
/// space may come between) joins the lines, and anything else is kept as it stands (rule 1's
/// advice to be robust: a lone `=` is most likely meant as itself). Line breaks stay CRLF.
fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if matches!(body[i], b' ' | b'\t') {
            // RFC 2045 §6.7 (3): white space at the end of an encoded line was added in
            // transport (or is padding), and a decoder deletes it.
            let mut j = i;
            while matches!(body.get(j), Some(b' ' | b'\t')) {
                j += 1;
            }
            if !matches!(
                (body.get(j), body.get(j + 1)),
                (Some(b'\r'), Some(b'\n')) | (Some(b'\n'), _) | (None, _)
            ) {
                out.extend_from_slice(&body[i..j]);
            }
            i = j;
            continue;
        }
        if body[i] != b'=' {
            out.push(body[i]);
            i += 1;
            continue;
        }
        if let (Some(a), Some(b)) = (
            body.get(i + 1).copied().and_then(hex),
            body.get(i + 2).copied().and_then(hex),
        ) {
            out.push(a << 4 | b);
            i += 3;
            continue;
        }
        let mut j = i + 1;
        while matches!(body.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        match (body.get(j), body.get(j + 1)) {
            (Some(b'\r'), Some(b'\n')) => i = j + 2,
            (Some(b'\n'), _) => i = j + 1,
            (None, _) => i = j,
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

/// `BINARY[1.2]<0>`: how the item is named in the response (RFC 3516 §5: the origin octet
/// only, as BODY[]).
pub fn item_name(size: bool, path: &[u32], partial: Option<(u32, u32)>) -> String {
    let part: Vec<String> = path.iter().map(u32::to_string).collect();
    let origin = partial
        .map(|(start, _)| format!("<{start}>"))
        .unwrap_or_default();
    let kind = if size { "BINARY.SIZE" } else { "BINARY" };
    format!("{kind}[{}]{origin}", part.join("."))
}

/// The pieces of one BINARY or BINARY.SIZE answer, after the space before the item.
pub fn answer(
    raw: &[u8],
    path: &[u32],
    size: bool,
    partial: Option<(u32, u32)>,
    locate: Locate,
) -> Vec<Piece> {
    let name = item_name(size, path, partial);
    // The command checked every part's encoding before any answer (see `unknown_cte`); a
    // part that fails now (the file changed meanwhile) is answered NIL.
    let Ok(Some(content)) = decoded(raw, path, locate) else {
        return vec![Piece::Text(format!("{name} NIL"))];
    };
    if size {
        return vec![Piece::Text(format!("{name} {}", content.len()))];
    }
    let (start, length) = partial.map_or((0, usize::MAX), |(s, l)| (s as usize, l as usize));
    let start = start.min(content.len());
    let end = start.saturating_add(length).min(content.len());
    vec![
        Piece::Text(format!("{name} ")),
        Piece::Literal8(content[start..end].to_vec()),
    ]
}

/// The first part the items ask for whose encoding cannot be undone, if any: RFC 3516 §4.3,
/// the whole FETCH then fails with `NO [UNKNOWN-CTE]` before anything is sent.
pub fn unknown_cte(raw: &[u8], parts: &[&[u32]], locate: Locate) -> Option<UnknownCte> {
    parts
        .iter()
        .find_map(|path| decoded(raw, path, locate).err())
}

impl Session {
    /// RFC 3516 §4.3: a FETCH asking for BINARY of a part in an encoding we cannot undo fails
    /// whole, with `NO [UNKNOWN-CTE]`, before any message is answered or marked \Seen. Each
    /// message named is read here once more (FETCH reads it again as it answers).
    pub(super) fn binary_refusal(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SequenceSet,
        items: &[FetchItem],
        locate: Locate,
    ) -> Option<Response> {
        let parts: Vec<&[u32]> = items
            .iter()
            .filter_map(|item| match item {
                FetchItem::Binary { part, .. } | FetchItem::BinarySize(part) => {
                    Some(part.as_slice())
                }
                _ => None,
            })
            .collect();
        if parts.is_empty() {
            return None;
        }
        let view = self.selected.as_mut()?;
        for i in view.resolve(set, uid) {
            let Ok(Some(entry)) = view.current(i) else {
                continue;
            };
            let Ok(Some((content, _))) = read_now(&view.maildir, &entry, true) else {
                continue;
            };
            if let Some(UnknownCte(why)) = unknown_cte(&content, &parts, locate) {
                return Some(Response::no(tag, "UNKNOWN-CTE", &why));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parts of a one-level multipart, found as `fetch::part_octets` finds them (this
    /// file may not name fetch.rs, even in tests: `tests/house.rs`).
    fn locate<'a>(raw: &'a [u8], path: &[u32]) -> Option<(&'a [u8], &'a [u8])> {
        let message = mail_parser::MessageParser::default().parse(raw)?;
        let [n] = path else { return None };
        let mail_parser::PartType::Multipart(children) = &message.parts.first()?.body else {
            return None;
        };
        let id = *children.get((*n as usize).checked_sub(1)?)? as usize;
        let part = message.parts.get(id)?;
        let (header, body, end) = (
            part.offset_header as usize,
            part.offset_body as usize,
            part.offset_end as usize,
        );
        Some((raw.get(header..body)?, raw.get(body..end)?))
    }

    const MESSAGE: &[u8] =
        b"Subject: parts\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=C3=A9 soft=\r\n break =3D\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: BASE64 (bytes)\r\n\r\n\
AAEC\r\n/w==\r\n\
--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n\
--b--\r\n";

    #[test]
    fn parts_are_decoded() {
        assert_eq!(
            decoded(MESSAGE, &[1], locate).unwrap().unwrap().as_ref(),
            "café soft break =".as_bytes()
        );
        assert_eq!(
            decoded(MESSAGE, &[2], locate).unwrap().unwrap().as_ref(),
            [0, 1, 2, 255]
        );
        assert!(decoded(MESSAGE, &[3], locate)
            .unwrap_err()
            .0
            .contains("x-uuencode"));
        assert_eq!(decoded(MESSAGE, &[9], locate), Ok(None));
        assert!(unknown_cte(MESSAGE, &[&[1], &[3]], locate).is_some());
        assert!(unknown_cte(MESSAGE, &[&[1], &[2]], locate).is_none());
    }

    #[test]
    fn answers_use_literal8_for_nul() {
        let answer_text = |path: &[u32], size, partial| {
            let mut wire = Vec::new();
            for piece in answer(MESSAGE, path, size, partial, locate) {
                piece.write(&mut |b| wire.extend_from_slice(b));
            }
            wire
        };
        assert_eq!(answer_text(&[2], true, None), b"BINARY.SIZE[2] 4");
        assert_eq!(
            answer_text(&[2], false, Some((0, 2))),
            b"BINARY[2]<0> ~{2}\r\n\x00\x01"
        );
        assert_eq!(
            answer_text(&[2], false, Some((1, 2))),
            b"BINARY[2]<1> {2}\r\n\x01\x02"
        );
        assert_eq!(
            answer_text(&[1], false, Some((0, 4))),
            b"BINARY[1]<0> {4}\r\ncaf\xc3"
        );
        assert_eq!(answer_text(&[7], false, None), b"BINARY[7] NIL");
    }

    #[test]
    fn quoted_printable_is_robust() {
        assert_eq!(
            quoted_printable(b"a=\r\nb=41=4a= \r\nc=zz=\nd="),
            b"abAJc=zzd"
        );
        // Trailing white space goes (§6.7 rule 3); inside a line, or encoded, it stays.
        assert_eq!(
            quoted_printable(b"hello  \r\nfoo\t \t= \r\n=62\r\na b=20\r\nend \t"),
            b"hello\r\nfoo\t \tb\r\na b \r\nend"
        );
    }
}
