//! UTF8=ACCEPT (RFC 6855): folder names in plain UTF-8 for a client that asks for them.
//!
//! On disk, and for every client that has not asked, a folder name is kept in the modified
//! UTF-7 of RFC 3501 §5.1.3 (`Données` is `Donn&AOk-es`), which fits in 7-bit IMAP. A client
//! that sends `ENABLE UTF8=ACCEPT` speaks UTF-8 instead, so the session translates at its
//! edge: names the client sends are encoded to modified UTF-7 before anything else sees them
//! ([`names_to_stored`]), and names the server sends are decoded back ([`to_wire`]). Both kinds
//! of client therefore see the same folder, each in its own spelling:
//!
//! ```text
//! C: e1 ENABLE UTF8=ACCEPT
//! S: * ENABLED UTF8=ACCEPT
//! C: e2 CREATE "Données"
//! C: e3 LIST "" "Donn*"
//! S: * LIST (\HasNoChildren) "." "Données"          ← a client without it sees "Donn&AOk-es"
//! ```
//!
//! Not done here: the `UTF8 (~{n})` form of APPEND (§4) and sending raw UTF-8 inside ENVELOPE
//! (encoded words are still sent, which every client decodes).

use super::command::Command;

/// RFC 6855 §3: what a UTF-8 folder name may not contain (Net-Unicode without controls,
/// DELETE, LINE SEPARATOR and PARAGRAPH SEPARATOR).
fn forbidden(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Encodes a UTF-8 name into modified UTF-7 (RFC 3501 §5.1.3): printable ASCII stays as it
/// is, `&` becomes `&-`, and every run of other characters becomes `&`, the modified base64
/// (`,` instead of `/`, no padding) of its UTF-16 units, and `-`.
pub fn encode_mutf7(name: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, out: &mut String| {
        if run.is_empty() {
            return;
        }
        out.push('&');
        let bytes: Vec<u8> = run.iter().flat_map(|unit| unit.to_be_bytes()).collect();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            // 1 byte makes 2 characters, 2 make 3, 3 make 4: no padding in this base64.
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out.push('-');
        run.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut units = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A stored (modified UTF-7) name as a UTF8=ACCEPT client reads it. A stored name that does
/// not decode (made by another tool) is sent as it is, so the client can still name it.
pub fn to_wire(stored: &str) -> String {
    crate::mailbox::folder::decode_mutf7(stored).unwrap_or_else(|| stored.to_string())
}

/// The name a UTF8=ACCEPT client sent, in the stored form; `Err` says why it is refused.
fn to_stored(name: &str) -> Result<String, &'static str> {
    if name.chars().any(forbidden) {
        return Err("A folder name may not contain control characters or line separators (RFC 6855 section 3)");
    }
    if name.contains('\u{FFFD}') {
        // The parser turns octets that are not UTF-8 into U+FFFD.
        return Err("The folder name is not valid UTF-8 (RFC 6855 section 3)");
    }
    Ok(encode_mutf7(name))
}

/// Every folder name in `command`, from the client's UTF-8 into the stored form.
pub fn names_to_stored(command: Command) -> Result<Command, &'static str> {
    use Command::*;
    Ok(match command {
        Select(n) => Select(to_stored(&n)?),
        Examine(n) => Examine(to_stored(&n)?),
        Create(n) => Create(to_stored(&n)?),
        Delete(n) => Delete(to_stored(&n)?),
        Rename(a, b) => Rename(to_stored(&a)?, to_stored(&b)?),
        Subscribe(n) => Subscribe(to_stored(&n)?),
        Unsubscribe(n) => Unsubscribe(to_stored(&n)?),
        Status(n, items) => Status(to_stored(&n)?, items),
        GetQuotaRoot(n) => GetQuotaRoot(to_stored(&n)?),
        // LIST and LSUB patterns stay in UTF-8: they are matched against decoded names
        // (`Session::name_matches`), since `*` and `%` can stop inside an encoded run.
        Append {
            mailbox,
            flags,
            date,
            message,
        } => Append {
            mailbox: to_stored(&mailbox)?,
            flags,
            date,
            message,
        },
        MultiAppend { mailbox, messages } => MultiAppend {
            mailbox: to_stored(&mailbox)?,
            messages,
        },
        Copy { uid, set, mailbox } => Copy {
            uid,
            set,
            mailbox: to_stored(&mailbox)?,
        },
        Move { uid, set, mailbox } => Move {
            uid,
            set,
            mailbox: to_stored(&mailbox)?,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::folder::decode_mutf7;

    #[test]
    fn encodes_the_rfc_3501_example_and_round_trips() {
        // RFC 3501 §5.1.3's example: "~peter/mail/台北/日本語" (with "." as our delimiter).
        assert_eq!(encode_mutf7("台北.日本語"), "&U,BTFw-.&ZeVnLIqe-");
        assert_eq!(encode_mutf7("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(encode_mutf7("Données"), "Donn&AOk-es");
        assert_eq!(encode_mutf7("plain"), "plain");
        for name in [
            "Données",
            "日本語",
            "a&b",
            "😀 emoji",
            "Ünïcödé.Sub",
            "&",
            "é",
        ] {
            assert_eq!(decode_mutf7(&encode_mutf7(name)).as_deref(), Some(name));
        }
    }

    #[test]
    fn refuses_what_rfc_6855_forbids_in_a_name() {
        for bad in [
            "a\u{2028}b",
            "a\u{2029}",
            "tab\there",
            "c1\u{85}",
            "bad\u{FFFD}",
        ] {
            assert!(to_stored(bad).is_err(), "{bad:?}");
        }
        assert_eq!(to_stored("Données").unwrap(), "Donn&AOk-es");
    }
}
