//! A message as POP3 sends it after `+OK` to RETR or TOP (RFC 1939 §3, §7).
//!
//! Each line goes out with CRLF; a line that starts with `.` gets one more `.` in front
//! (byte-stuffing), so that no line of the message can be mistaken for the end, which is a line
//! holding a single `.`. The client strips the extra dot again.
//!
//! ```text
//! S: +OK 52 octets
//! S: Subject: dots
//! S:
//! S: ..a line that started with one dot
//! S: .
//! ```
//!
//! TOP n sends the header, the blank line after it, and the first `n` lines of the body.
//! postlab's Maildir files already end their lines with CRLF; a bare LF (a file put there by
//! another program) is sent as CRLF too, so the client always gets valid POP3.

/// The message (or its top) byte-stuffed and ended with `.` CRLF, ready to send.
pub fn render(content: &[u8], body_lines: Option<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 50 + 8);
    let mut in_body = false;
    let mut body_sent = 0usize;
    for line in lines(content) {
        if in_body {
            if let Some(limit) = body_lines {
                if body_sent >= limit {
                    break;
                }
            }
            body_sent += 1;
        } else if line.is_empty() {
            in_body = true;
        }
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The lines of `content`, each without its CRLF (or bare LF). A last line without an ending
/// counts as a line; an empty tail after the last newline does not.
fn lines(content: &[u8]) -> impl Iterator<Item = &[u8]> {
    let content = content.strip_suffix(b"\n").unwrap_or(content);
    let empty = content.is_empty();
    content
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(move |_| !empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"Subject: x\r\n\r\n.one\r\ntwo\r\n..three\r\n";

    #[test]
    fn stuffs_dots_and_ends_with_a_dot_line() {
        assert_eq!(
            render(MESSAGE, None),
            b"Subject: x\r\n\r\n..one\r\ntwo\r\n...three\r\n.\r\n"
        );
        assert_eq!(render(b"", None), b".\r\n");
        assert_eq!(render(b"a\nb", None), b"a\r\nb\r\n.\r\n");
    }

    #[test]
    fn top_cuts_the_body() {
        assert_eq!(render(MESSAGE, Some(0)), b"Subject: x\r\n\r\n.\r\n");
        assert_eq!(
            render(MESSAGE, Some(1)),
            b"Subject: x\r\n\r\n..one\r\n.\r\n"
        );
        assert_eq!(render(MESSAGE, Some(99)), render(MESSAGE, None));
        // No body at all: the header alone.
        assert_eq!(render(b"Subject: x\r\n", Some(2)), b"Subject: x\r\n.\r\n");
    }
}
