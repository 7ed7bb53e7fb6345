//! ENVELOPE and BODYSTRUCTURE (RFC 3501 §7.4.2): a message's headers and MIME tree written as
//! IMAP's parenthesised lists, so a client can show a folder without downloading messages.
//!
//! ```text
//! ENVELOPE ("Thu, 26 Nov 2026 15:20:55 +0000" "hello" (("Alice" NIL "alice" "localhost"))
//!           …from, sender, reply-to, to, cc, bcc… NIL "<id@mx.test>")
//! BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 12 1 NIL NIL NIL NIL)
//! ```
//!
//! The MIME tree comes from `mail-parser`. Header texts (date, subject, ids) are sent as they
//! are in the message, still RFC 2047-encoded: decoding them is the client's job (§7.4.2).

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

use super::address::{self, Item};
use super::header::{header_end, header_fields};
use super::response::nstring;

/// The raw, unfolded value of the first `name:` header field.
fn raw_field(message: &[u8], name: &str) -> Option<String> {
    header_fields(message)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| {
            let text = String::from_utf8_lossy(v);
            text.replace(['\r', '\n'], "").trim().to_string()
        })
}

/// `envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP env-to
/// SP env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"`
pub fn envelope(raw: &[u8]) -> String {
    let header = &raw[..header_end(raw)];
    let addresses = |field: &str| -> String {
        match raw_field(header, field) {
            Some(value) => address_list(&value),
            None => "NIL".into(),
        }
    };
    let from = addresses("From");
    let sender = match addresses("Sender") {
        nil if nil == "NIL" => from.clone(),
        list => list,
    };
    let reply_to = match addresses("Reply-To") {
        nil if nil == "NIL" => from.clone(),
        list => list,
    };
    format!(
        "({} {} {from} {sender} {reply_to} {} {} {} {} {})",
        nstring(raw_field(header, "Date").as_deref()),
        nstring(raw_field(header, "Subject").as_deref()),
        addresses("To"),
        addresses("Cc"),
        addresses("Bcc"),
        nstring(raw_field(header, "In-Reply-To").as_deref()),
        nstring(raw_field(header, "Message-ID").as_deref()),
    )
}

/// `"(" 1*address ")" / nil`; groups as RFC 3501 §7.4.2 writes them (a start marker with the
/// group name, the members, an end marker). The field is read by `address.rs`.
fn address_list(value: &str) -> String {
    let out: Vec<String> = address::parse(value)
        .into_iter()
        .map(|item| match item {
            Item::Address {
                name,
                route,
                mailbox,
                host,
            } => format!(
                "({} {} {} {})",
                nstring(name.as_deref()),
                nstring(route.as_deref()),
                nstring(Some(&mailbox)),
                nstring(host.as_deref())
            ),
            Item::GroupStart(name) => format!("(NIL NIL {} NIL)", nstring(Some(&name))),
            Item::GroupEnd => "(NIL NIL NIL NIL)".into(),
        })
        .collect();
    if out.is_empty() {
        "NIL".into()
    } else {
        format!("({})", out.join(""))
    }
}

/// `body` (RFC 3501 §9): the MIME tree; with `extended`, BODYSTRUCTURE's extension data too.
pub fn body_structure(raw: &[u8], extended: bool) -> String {
    structure_at(raw, extended, 0)
}

/// The structure of `raw` found `depth` levels down (nested messages count too).
fn structure_at(raw: &[u8], extended: bool, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return OPAQUE.into();
    }
    match MessageParser::default().parse(raw) {
        Some(message) => {
            // Each part is drawn once: a damaged message must not make the parser's part tree
            // a graph that is walked again and again.
            let mut seen = vec![false; message.parts.len()];
            part_structure(&message, raw, 0, extended, depth, &mut seen)
        }
        None => "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)".into(),
    }
}

/// How deep BODYSTRUCTURE follows nested multiparts. Each level is a stack frame on the
/// session's thread; a hostile message nested thousands deep (a few dozen octets a level) would
/// otherwise overflow the stack and take the whole server down. Deeper parts are shown as an
/// opaque leaf.
const MAX_DEPTH: usize = 64;

/// What a part too deep (or seen twice) is shown as.
const OPAQUE: &str = "(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"7BIT\" 0)";

fn part_structure(
    message: &Message,
    raw: &[u8],
    id: usize,
    extended: bool,
    depth: usize,
    seen: &mut Vec<bool>,
) -> String {
    let Some(part) = message.parts.get(id) else {
        return "NIL".into();
    };
    if depth > MAX_DEPTH || seen[id] {
        return OPAQUE.into();
    }
    seen[id] = true;
    let (ctype, subtype) = content_type(part);
    if let PartType::Multipart(children) = &part.body {
        let inner: String = children
            .iter()
            .map(|&c| part_structure(message, raw, c as usize, extended, depth + 1, seen))
            .collect();
        let mut out = format!("({inner} {}", string(&subtype));
        if extended {
            out.push_str(&format!(" {} NIL NIL NIL", params(part)));
        }
        out.push(')');
        return out;
    }
    let body = raw
        .get(part.offset_body as usize..part.offset_end as usize)
        .unwrap_or_default();
    let encoding = part
        .content_transfer_encoding()
        .unwrap_or("7BIT")
        .to_ascii_uppercase();
    let mut out = format!(
        "({} {} {} {} {} {} {}",
        string(&ctype),
        string(&subtype),
        params(part),
        nstring(part.content_id()),
        nstring(part.content_description()),
        string(&encoding),
        body.len()
    );
    let lines = body.iter().filter(|&&b| b == b'\n').count();
    if ctype == "MESSAGE" && subtype == "RFC822" {
        // The attached message is parsed on its own, one level deeper; a damaged one whose body
        // is not smaller than its container would otherwise be parsed forever.
        let inner = if body.len() < raw.len() {
            structure_at(body, extended, depth + 1)
        } else {
            OPAQUE.into()
        };
        out.push_str(&format!(" {} {inner} {lines}", envelope(body)));
    } else if ctype == "TEXT" {
        out.push_str(&format!(" {lines}"));
    }
    if extended {
        let disposition = match part.content_disposition() {
            Some(d) => format!(
                "({} {})",
                string(&d.ctype().to_ascii_uppercase()),
                attributes(d)
            ),
            None => "NIL".into(),
        };
        out.push_str(&format!(" NIL {disposition} NIL NIL"));
    }
    out.push(')');
    out
}

/// A quoted string that stays 7-bit: a quoted string may not carry 8-bit octets without
/// UTF8=ACCEPT (RFC 3501 §9 `QUOTED-CHAR`, RFC 6855), and a parameter the MIME parser decoded
/// (an RFC 2231 filename) can be UTF-8. `nstring` sends such text as an RFC 2047 encoded word.
fn string(text: &str) -> String {
    nstring(Some(text))
}

/// The part's type and subtype in capitals; text/plain when it has no Content-Type (RFC 2045 §5.2).
fn content_type(part: &MessagePart) -> (String, String) {
    match part.content_type() {
        Some(ct) => (
            ct.ctype().to_ascii_uppercase(),
            ct.subtype().unwrap_or("").to_ascii_uppercase(),
        ),
        None if matches!(part.body, PartType::Message(_)) => ("MESSAGE".into(), "RFC822".into()),
        None => ("TEXT".into(), "PLAIN".into()),
    }
}

/// `body-fld-param`: the Content-Type parameters, or text/plain's default charset.
fn params(part: &MessagePart) -> String {
    match part.content_type() {
        Some(ct) => attributes(ct),
        None => "(\"CHARSET\" \"US-ASCII\")".into(),
    }
}

fn attributes(ct: &mail_parser::ContentType) -> String {
    match ct.attributes() {
        Some(list) if !list.is_empty() => {
            let items: Vec<String> = list
                .iter()
                .map(|a| {
                    format!(
                        "{} {}",
                        string(&a.name.to_ascii_uppercase()),
                        string(&a.value)
                    )
                })
                .collect();
            format!("({})", items.join(" "))
        }
        _ => "NIL".into(),
    }
}

#[cfg(test)]
mod tests {
    /// Found by `make fuzz` (mime_structure): a multipart with a damaged encoded word and a
    /// message/rfc822 part whose header runs into another. mail-parser's debug assertion
    /// fired on it; the answer must simply be some structure, never a panic.
    /// Thousands of nested multiparts must not overflow the session thread's stack.
    #[test]
    fn deeply_nested_multiparts_stay_within_the_stack() {
        let levels = 5000;
        let mut raw = String::new();
        for i in 0..levels {
            raw.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
            ));
        }
        raw.push_str("Content-Type: text/plain\r\n\r\ndeep\r\n");
        for i in (0..levels).rev() {
            raw.push_str(&format!("--b{i}--\r\n"));
        }
        // A thread with a small stack, like a session thread.
        let handle = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || body_structure(raw.as_bytes(), true))
            .unwrap();
        let structure = handle.join().expect("no stack overflow");
        assert!(
            structure.contains("OCTET-STREAM"),
            "the depth cap shows as an opaque part"
        );
    }

    /// Found by `make fuzz` (out of memory): damaged message/rfc822 parts made BODYSTRUCTURE
    /// parse the same bytes again and again. Now each part is drawn once, nesting is capped, and
    /// the answer stays small.
    #[test]
    fn fuzz_regression_nested_messages_stay_small() {
        let raw: &[u8] = b"Content-Type: multipart/mixed; boundary=b\x0d\x0ac\x14\x0dt2\x14\x14\x14\x14\x14\x14\x0a\x0d\x0aSubt/mixed;0b\x01Sxed\x14\x14\x14\x14\x14\x14\x14\x14A\x14\x14\x14\x14\x14\x14\x14\x14\x14\x0a\x0d\x0aSubject: in\x0d\x00\x00\x00E\x0d\x0a-hi\x0d\x0a--b\x0d\x0aContent-Type: message/rfc822\x0d\x0a\x0d\x0aject: in\x0d\x00\x00\x00E\x0d\x0a-hi\x0d\x0a--b\x0d\x0aContent-Type: message/rfc822\x0d\x0a\x0d2\x0d\x0a\x0d\x0aject: in\x0d\x00\x00\x00E\x0d\xbf-hi\x0d\x0a-e/rfc822\x0d\x0a\x0d2\x0d\x0a\x0d\x0aject: in\x0d\x00\x00\x00E\x0d\xbf-hi\x0d\x0a--b\x0d\x0aContent-Type: message/rfc822\x0d\x0a\x0d\x0aSubjec\x0aSubject: in\x0d\x0a\x0d\x0ax\x0d\x0a--b--\x0d\x0a";
        let structure = body_structure(raw, true);
        assert!(
            structure.starts_with('(') && structure.len() < 64 * 1024,
            "{} octets",
            structure.len()
        );
    }

    #[test]
    fn fuzz_regression_damaged_multipart_does_not_panic() {
        let raw: &[u8] = b"Content-Type: multipart/mixed; boundary=b\x0d\x0aSubject: =?ftu-8?B\x00\xab6k=?=\x0d\x0a\x0d\x0a--b\x0d\x0aContent-Type:  message/rfc822\x0d\x0a\x0d\x0aSu\x0d\x0aContent-Type: message/rfc822\x0d\x0a\x0d\x0aSucejbt: in\x0d\x0a\x0d\x0ax\x0d\x0a--b--\x0d\x0a";
        assert!(body_structure(raw, true).starts_with('('));
        assert!(envelope(raw).starts_with('('));
    }

    use super::*;

    #[test]
    fn an_rfc_2231_filename_in_utf8_stays_7bit_in_bodystructure() {
        let raw = b"Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n filename*=utf-8''%C3%A9t%C3%A9.pdf\r\n\r\nAAAA\r\n";
        let structure = body_structure(raw, true);
        assert!(structure.is_ascii(), "{structure}");
        assert!(
            structure.contains("(\"ATTACHMENT\" (\"FILENAME\" \"=?utf-8?b?w6l0w6kucGRm?=\"))"),
            "{structure}"
        );
    }

    #[test]
    fn addresses_with_comments_and_routes() {
        let raw = b"From: <user (c)@ (c) domain.org>\r\nTo: <@route:user@domain>\r\nCc: user@domain (Real Name)\r\nSender: \r\n\r\n";
        assert_eq!(
            envelope(raw),
            "(NIL NIL ((NIL NIL \"user\" \"domain.org\")) ((NIL NIL \"user\" \"domain.org\")) \
((NIL NIL \"user\" \"domain.org\")) ((NIL \"@route\" \"user\" \"domain\")) \
((\"Real Name\" NIL \"user\" \"domain\")) NIL NIL NIL)"
        );
    }

    #[test]
    fn envelope_and_structure() {
        let raw = b"Date: Thu, 26 Nov 2026 15:20:55 +0000\r\nFrom: Alice <alice@localhost>\r\n\
To: bob@localhost, \"Carol C\" <carol@example.org>\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\
Message-ID: <1@mx.test>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--b\r\n\
Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n";
        let env = envelope(raw);
        assert_eq!(
            env,
            "(\"Thu, 26 Nov 2026 15:20:55 +0000\" \"=?utf-8?q?caf=C3=A9?=\" \
((\"Alice\" NIL \"alice\" \"localhost\")) ((\"Alice\" NIL \"alice\" \"localhost\")) \
((\"Alice\" NIL \"alice\" \"localhost\")) \
((NIL NIL \"bob\" \"localhost\")(\"Carol C\" NIL \"carol\" \"example.org\")) NIL NIL NIL \"<1@mx.test>\")"
        );
        let body = body_structure(raw, false);
        assert!(
            body.starts_with("((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 5 0)"),
            "{body}"
        );
        assert!(body.ends_with("\"BASE64\" 4) \"MIXED\")"), "{body}");
    }
}
