//! APPEND of binary content: parts holding NUL are stored base64-encoded.
//!
//! RFC 3516 §4.4 lets a client APPEND octets that hold NUL, in a `literal8` (`~{n}`), and lets
//! the server change a part's Content-Transfer-Encoding as long as no data is lost. It has to:
//! IMAP may send unencoded binary only in answer to FETCH BINARY[…] (RFC 9051 §4, "client and
//! server implementations MUST encode binary data into a textual form, such as base64"), so a
//! stored NUL would break every plain FETCH BODY[] of the message. Dovecot does the same on
//! APPEND.
//!
//! ```text
//! C: a APPEND INBOX ~{95}                      S: a OK [APPENDUID 1796 7] APPEND completed
//! C: Content-Type: application/octet-stream    on disk: Content-Type: application/octet-stream
//! C: Content-Transfer-Encoding: binary                  Content-Transfer-Encoding: base64
//! C:                                                    
//! C: <NUL>-<0xe4>…                                      AC3k…
//! ```
//!
//! Each leaf part whose body holds a NUL, and whose encoding is the identity (`binary`,
//! `8bit`, `7bit` or none), gets `Content-Transfer-Encoding: base64` and its octets encoded;
//! everything else is kept byte for byte, so `BINARY[part]` gives back exactly what was sent.
//! A NUL anywhere else (a header, a multipart's preamble, a part that claims base64 or is a
//! whole attached message) cannot be re-encoded without loss: RFC 3516 §4.4's
//! `NO [UNKNOWN-CTE]` refuses the message.

use std::borrow::Cow;

use base64ct::Encoding as _;
use mail_parser::{MessageParser, PartType};

use super::binary::identity_encoded;

/// Why a message with NUL cannot be stored (`NO [UNKNOWN-CTE]`).
#[derive(Debug, PartialEq, Eq)]
pub struct Refused(pub &'static str);

/// `raw` as it may be stored: itself when it holds no NUL, else with every binary part that
/// holds one re-encoded as base64 (module comment).
pub fn textual(raw: &[u8]) -> Result<Cow<'_, [u8]>, Refused> {
    if !raw.contains(&0) {
        return Ok(Cow::Borrowed(raw));
    }
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(Refused("the message cannot be parsed as MIME"))?;
    // The leaf parts whose bodies hold NUL, in order: (header start, body start, body end).
    let mut binary: Vec<(usize, usize, usize)> = Vec::new();
    for part in &message.parts {
        let (header, start, end) = (
            part.offset_header as usize,
            part.offset_body as usize,
            part.offset_end as usize,
        );
        let body = raw.get(start..end).unwrap_or_default();
        if !body.contains(&0) {
            continue;
        }
        match &part.body {
            PartType::Multipart(_) => continue,
            PartType::Message(_) => return Err(Refused("a NUL inside an attached message")),
            _ if identity_encoded(raw.get(header..start).unwrap_or_default()) => {
                binary.push((header, start, end));
            }
            _ => return Err(Refused("a NUL inside a base64 or quoted-printable part")),
        }
    }
    let mut out = Vec::with_capacity(raw.len() * 4 / 3 + 256);
    let mut at = 0;
    for (header, start, end) in binary {
        if header < at || start < header {
            return Err(Refused("parts that overlap"));
        }
        out.extend_from_slice(&raw[at..header]);
        out.extend_from_slice(&base64_header(&raw[header..start]));
        out.extend_from_slice(&base64_lines(&raw[start..end]));
        // The line break before a boundary belongs to the boundary (RFC 2046 §5.1.1): the
        // last base64 line ends with it, or with one of its own at the end of the message.
        if !raw[end..].starts_with(b"\r\n") && !raw[end..].starts_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
        at = end;
    }
    out.extend_from_slice(&raw[at..]);
    // A NUL left over was in a header, a preamble or between parts.
    if out.contains(&0) {
        return Err(Refused("a NUL outside the body of a part"));
    }
    Ok(Cow::Owned(out))
}

/// A part's header (with the blank line that ends it) with its Content-Transfer-Encoding
/// field, folded lines and all, replaced by `base64`.
fn base64_header(header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + 40);
    let mut dropping = false;
    let lines = header.split_inclusive(|&b| b == b'\n');
    for line in lines {
        let blank = line == b"\r\n" || line == b"\n";
        if blank {
            break;
        }
        let continued = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continued {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            dropping = name
                .trim_ascii()
                .eq_ignore_ascii_case(b"Content-Transfer-Encoding");
        }
        if !dropping {
            out.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
    out
}

/// Base64 in lines of 76 characters (RFC 2045 §6.8) joined by CRLF.
fn base64_lines(octets: &[u8]) -> Vec<u8> {
    let text = base64ct::Base64::encode_string(octets);
    text.as_bytes()
        .chunks(76)
        .collect::<Vec<_>>()
        .join(&b"\r\n"[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_nul_is_kept_as_it_is() {
        let raw = b"Subject: hi\r\n\r\n8-bit \xe4 but no NUL\r\n";
        assert!(matches!(textual(raw), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn a_binary_part_becomes_base64_and_decodes_to_the_same_octets() {
        let raw = b"Subject: two\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/octet-stream\r\n\
Content-Transfer-Encoding:\r\n binary\r\n\r\n\x00-\xe4\n\r\n--b--\r\n";
        let stored = textual(raw).unwrap().into_owned();
        assert!(!stored.contains(&0));
        let parsed = MessageParser::default().parse(&stored).unwrap();
        let part = &parsed.parts[2];
        assert_eq!(part.encoding, mail_parser::Encoding::Base64);
        assert_eq!(part.contents(), b"\x00-\xe4\n");
        assert_eq!(parsed.parts[1].contents(), b"hello");
        let text = String::from_utf8_lossy(&stored);
        assert!(!text.contains("binary"), "{text}");
        assert!(text.contains("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAC3kCg==\r\n--b--\r\n"), "{text}");
        // A single part at the end of the message: its last line gets a line break.
        let single = textual(b"Content-Transfer-Encoding: 8bit\r\n\r\n\x00").unwrap();
        assert_eq!(
            &*single,
            b"Content-Transfer-Encoding: base64\r\n\r\nAA==\r\n"
        );
    }

    #[test]
    fn a_nul_that_cannot_be_re_encoded_refuses_the_message() {
        for raw in [
            &b"Subject: a\x00b\r\n\r\nbody\r\n"[..],
            b"Content-Transfer-Encoding: base64\r\n\r\nAA\x00==\r\n",
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\x00amble\r\n--b\r\n\r\nx\r\n--b--\r\n",
        ] {
            assert!(textual(raw).is_err(), "{raw:?}");
        }
    }
}
