//! A message's header block as IMAP reads it (RFC 5322 §2.2): where the header ends and its
//! fields, each with its folded continuation lines. FETCH (sections, `HEADER.FIELDS`), ENVELOPE
//! and SEARCH's header keys all cut from the same octets, so they share this one reading.

/// Where the header ends: just after the first empty line (or the whole message if none).
pub fn header_end(message: &[u8]) -> usize {
    let mut i = 0;
    while i < message.len() {
        if message[i..].starts_with(b"\r\n") && i == 0 {
            return 2;
        }
        if message[i..].starts_with(b"\r\n\r\n") {
            return i + 4;
        }
        if message[i..].starts_with(b"\n\n") {
            return i + 2;
        }
        i += 1;
    }
    message.len()
}

/// The header fields of a message, each as (name, raw value with its folding).
pub fn header_fields(message: &[u8]) -> Vec<(String, &[u8])> {
    field_lines(&message[..header_end(message)])
        .into_iter()
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&line[..colon]).trim().to_string();
            Some((name, &line[colon + 1..]))
        })
        .collect()
}

/// Splits a header block into fields, each with its continuation lines and its CRLF.
pub fn field_lines(header: &[u8]) -> Vec<&[u8]> {
    let mut fields = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < header.len() {
        if header[i] == b'\n' {
            let next = header.get(i + 1).copied();
            if next != Some(b' ') && next != Some(b'\t') {
                let field = &header[start..=i];
                if field != b"\r\n" && field != b"\n" {
                    fields.push(field);
                }
                start = i + 1;
            }
        }
        i += 1;
    }
    fields
}
