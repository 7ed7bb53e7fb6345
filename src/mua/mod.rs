//! Our own mail client, the MUA of flowchart steps 1 and 7: `postlab send` composes a message
//! and submits it over SMTP; `postlab fetch` reads a mailbox over POP3.
//!
//! It is deliberately small and loud: with `--verbose` it prints its side of every dialogue,
//! labelled `[1 MUA]` or `[7 ACCESS]`, so a student sees what a real mail program does behind
//! its buttons.
//!
//! | file | job |
//! |---|---|
//! | `compose.rs` | headers, body, attachments → a MIME message (RFC 5322, 2045–2047) |
//! | `submit.rs` | the SMTP submission dialogue (RFC 6409, AUTH PLAIN of RFC 4954) |
//! | `fetch.rs` | list, read and delete over POP3 (RFC 1939) |
//! | `imap.rs` | the same over IMAP (RFC 3501): the mail stays on the server |
//! | `wire.rs` | the line-by-line conversation both use, with its transcript |

pub mod compose;
pub mod fetch;
pub mod imap;
pub mod submit;
pub mod wire;

/// What `postlab fetch` does with a mailbox, whichever protocol reads it.
pub trait Mailbox {
    fn list(&mut self) -> Result<Vec<fetch::Summary>, String>;
    fn read(&mut self, number: usize) -> Result<Vec<u8>, String>;
    fn delete(&mut self, number: usize) -> Result<(), String>;
    /// Ends the session (POP3: deletions take effect now; IMAP: LOGOUT).
    fn finish(self: Box<Self>) -> Result<(), String>;
}

impl Mailbox for fetch::Pop3 {
    fn list(&mut self) -> Result<Vec<fetch::Summary>, String> {
        fetch::Pop3::list(self)
    }
    fn read(&mut self, number: usize) -> Result<Vec<u8>, String> {
        fetch::Pop3::read(self, number)
    }
    fn delete(&mut self, number: usize) -> Result<(), String> {
        fetch::Pop3::delete(self, number)
    }
    fn finish(self: Box<Self>) -> Result<(), String> {
        self.quit()
    }
}

impl Mailbox for imap::Imap {
    fn list(&mut self) -> Result<Vec<fetch::Summary>, String> {
        imap::Imap::list(self)
    }
    fn read(&mut self, number: usize) -> Result<Vec<u8>, String> {
        imap::Imap::read(self, number)
    }
    fn delete(&mut self, number: usize) -> Result<(), String> {
        imap::Imap::delete(self, number)
    }
    fn finish(self: Box<Self>) -> Result<(), String> {
        self.logout()
    }
}
