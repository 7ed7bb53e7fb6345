//! The SASL PLAIN mechanism (RFC 4616): one base64 message, `authzid NUL authcid NUL passwd`.
//!
//! The payload is a password in thin disguise: base64 is an encoding, not encryption. It is
//! never written to the transcript (the server's door redacts it) and is accepted only where
//! `login::plaintext_allowed` says a password may travel.

/// Decodes a PLAIN response into (authorization id, user, password).
pub fn decode_plain(line: &[u8]) -> Option<(String, String, String)> {
    let bytes = base64_decode(line)?;
    let mut fields = bytes.split(|&b| b == 0);
    let authzid = String::from_utf8(fields.next()?.to_vec()).ok()?;
    let user = String::from_utf8(fields.next()?.to_vec()).ok()?;
    let password = String::from_utf8(fields.next()?.to_vec()).ok()?;
    if fields.next().is_some() || user.is_empty() {
        return None;
    }
    Some((authzid, user, password))
}

/// Standard base64 (RFC 4648 §4) with padding; `None` for anything else.
pub fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for chunk in text.chunks(4) {
        let mut bits: u32 = 0;
        let mut pad = 0;
        for (i, &c) in chunk.iter().enumerate() {
            let value = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' if i >= 2 => {
                    pad += 1;
                    0
                }
                _ => return None,
            };
            if pad > 0 && c != b'=' {
                return None;
            }
            bits = (bits << 6) | u32::from(value);
        }
        let bytes = [(bits >> 16) as u8, (bits >> 8) as u8, bits as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decodes() {
        // base64 of "\0alice\0alice-password"
        assert_eq!(
            decode_plain(b"AGFsaWNlAGFsaWNlLXBhc3N3b3Jk"),
            Some(("".into(), "alice".into(), "alice-password".into()))
        );
        assert_eq!(decode_plain(b"not base64!"), None);
        assert_eq!(base64_decode(b"aGk=").unwrap(), b"hi");
    }
}
