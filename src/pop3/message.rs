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

/// The message (or its top) byte-stuffed and ended with `.` CRLF, in one piece (for tests and
/// small messages; the server streams with [`Stuffer`]).
pub fn render(content: &[u8], body_lines: Option<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 50 + 8);
    let mut stuffer = Stuffer::new(body_lines);
    stuffer.feed(content, &mut out);
    stuffer.finish(&mut out);
    out
}

/// Byte-stuffing as a small state machine over the file's octets, fed a chunk at a time: the
/// server reads a message in pieces of a few KiB and sends each as soon as it is stuffed, so a
/// message of any size costs the same little memory, and none of it is copied whole.
///
/// A line is the octets before an LF; a CR just before the LF belongs to the line ending, not
/// the line (so a bare LF is sent as CRLF too). A last line without an ending still counts.
#[derive(Debug)]
pub struct Stuffer {
    /// TOP's `n`: how many body lines to send (`None` for RETR: all).
    body_lines: Option<usize>,
    /// Octets of the current line seen so far (a held CR included).
    line_len: usize,
    /// A CR seen and not sent yet: it is the line's ending if an LF follows.
    held_cr: bool,
    /// The empty line that ends the header has passed.
    in_body: bool,
    body_sent: usize,
    /// TOP has sent its lines: the rest of the message is skipped.
    done: bool,
}

impl Stuffer {
    pub fn new(body_lines: Option<usize>) -> Stuffer {
        Stuffer {
            body_lines,
            line_len: 0,
            held_cr: false,
            in_body: false,
            body_sent: 0,
            done: false,
        }
    }

    /// Has TOP sent all the lines it wants (so the file need not be read further)?
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Appends the wire form of `chunk`, the next octets of the message, to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        for &b in chunk {
            if self.done {
                return;
            }
            if self.line_len == 0 && !self.begin_line() {
                return;
            }
            if b == b'\n' {
                let empty = self.line_len == 0 || (self.line_len == 1 && self.held_cr);
                self.held_cr = false;
                out.extend_from_slice(b"\r\n");
                if empty {
                    self.in_body = true;
                }
                self.line_len = 0;
                continue;
            }
            if self.held_cr {
                out.push(b'\r');
                self.held_cr = false;
            }
            if b == b'\r' {
                self.held_cr = true;
            } else {
                // RFC 1939 §3: a line that begins with "." gets one more.
                if self.line_len == 0 && b == b'.' {
                    out.push(b'.');
                }
                out.push(b);
            }
            self.line_len += 1;
        }
    }

    /// Ends the message: the last line's CRLF if it had none, then the `.` line.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.done && self.line_len > 0 {
            // A CR at the very end is taken as the line's ending, like CRLF.
            out.extend_from_slice(b"\r\n");
        }
        self.line_len = 0;
        self.held_cr = false;
        out.extend_from_slice(b".\r\n");
    }

    /// A new line begins (at its first octet): for TOP, is it one we still send?
    fn begin_line(&mut self) -> bool {
        if self.in_body {
            if let Some(limit) = self.body_lines {
                if self.body_sent >= limit {
                    self.done = true;
                    return false;
                }
            }
            self.body_sent += 1;
        }
        true
    }
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

    /// Fed one octet at a time (a CR and its LF in different chunks), the same octets come out.
    #[test]
    fn chunks_do_not_change_the_output() {
        let samples: [&[u8]; 4] = [
            MESSAGE,
            b"a\r\r\n.\r\n\r\n.b\rc\n..\r",
            b"Subject: y\n\n.x\ny\nz",
            b"\r\n\r\n.\r\n",
        ];
        for sample in samples {
            for top in [None, Some(0), Some(1), Some(2)] {
                let mut out = Vec::new();
                let mut stuffer = Stuffer::new(top);
                for octet in sample.chunks(1) {
                    stuffer.feed(octet, &mut out);
                }
                stuffer.finish(&mut out);
                assert_eq!(out, render(sample, top), "{sample:?} {top:?}");
            }
        }
        assert_eq!(render(b"a\r", None), b"a\r\n.\r\n");
        assert_eq!(render(b"a\rb\r\n", None), b"a\rb\r\n.\r\n");
    }
}
