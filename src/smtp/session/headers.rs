//! Reading the header section of a received message: counting `Received:` hops (RFC 5321
//! §6.3) and finding the `Date:` and `Message-ID:` a submission server may add (RFC 6409 §8).

use std::time::SystemTime;

use crate::clock::Civil;
use crate::ids::QueueId;

/// RFC 5321 §6.3 leaves the limit to the server; Postfix and others use about 50.
pub const MAX_HOPS: usize = 50;

/// Counts `Received:` fields in the header section (up to the first empty line).
pub(super) fn count_received(content: &[u8]) -> usize {
    header_lines(content)
        .filter(|line| starts_with_field(line, "received"))
        .count()
}

/// The lines of the header section, without their CRLF.
fn header_lines(content: &[u8]) -> impl Iterator<Item = &[u8]> {
    content
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
}

fn starts_with_field(line: &[u8], name: &str) -> bool {
    line.len() > name.len()
        && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        && line[name.len()] == b':'
}

/// `Date:` and `Message-ID:` fields to add when the content lacks them (RFC 5322 §3.6 requires
/// a Date; §3.6.4 says every message should have a Message-ID).
pub(super) fn missing_fields(
    content: &[u8],
    id: &QueueId,
    hostname: &str,
    now: SystemTime,
) -> Vec<String> {
    let mut fields = Vec::new();
    if !header_lines(content).any(|l| starts_with_field(l, "date")) {
        fields.push(format!(
            "Date: {}\r\n",
            Civil::from_system_time(now).rfc5322()
        ));
    }
    if !header_lines(content).any(|l| starts_with_field(l, "message-id")) {
        fields.push(format!("Message-ID: <{id}@{hostname}>\r\n"));
    }
    fields
}
