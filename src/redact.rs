//! Redaction: what a client line may show in a transcript. One small pure function per protocol,
//! called by that protocol's door to the transcript (`Chat::client_line` in each `server.rs`),
//! the way Postfix's `smtpd_chat.c` hides AUTH.
//!
//! The rule goes by the command, never by the line's exact spelling. A line is cut into words
//! at any run of white space or control characters (space, tab, two spaces, a NUL…), in any
//! case, leading white space skipped, so `AUTH<TAB>PLAIN <b64>`, `a  LOGIN alice pw` and
//! `pass<TAB>secret` are all recognised, whether or not the protocol's parser would accept them:
//! a line the parser refuses may still hold a secret the user typed.
//!
//! | protocol | shown | hidden |
//! |---|---|---|
//! | SMTP (RFC 4954) | `AUTH PLAIN` | the initial response; every line of the SASL exchange |
//! | POP3 (RFC 1939, 5034) | `PASS`, `APOP bob`, `AUTH PLAIN` | the password, the digest, the initial response, the SASL lines |
//! | IMAP (RFC 3501, 4959) | `a1 LOGIN alice`, `a2 AUTHENTICATE PLAIN` | the password (atom, quoted string or literal), the initial response, the SASL line, the rest of a LOGIN after a literal |
//!
//! Two more shapes are hidden because a client may send credentials where the server does not
//! expect them: a line of one lone word that is no command of the protocol (a base64 SASL
//! answer sent after the server refused the AUTH, or a password typed on its own line), and a
//! mechanism name that is not a known SASL mechanism (it may be the credentials themselves).
//! The server's reply to such a line is still in the transcript, so a student sees what
//! happened.

/// What replaces a password.
pub const PASSWORD: &str = "<password hidden>";
/// What replaces SASL credentials (an initial response, a line of the exchange).
pub const CREDENTIALS: &str = "<credentials hidden>";
/// What replaces a lone word that is no command: it may be credentials.
pub const LONE_WORD: &str = "<a lone word, hidden: it may be credentials>";

/// SASL mechanisms whose names are shown (IANA "SASL Mechanisms" registry, the common ones).
/// Anything else in the mechanism's place is hidden: it may be the credentials themselves.
const MECHANISMS: &[&str] = &[
    "PLAIN",
    "LOGIN",
    "CRAM-MD5",
    "DIGEST-MD5",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-256-PLUS",
    "XOAUTH2",
    "OAUTHBEARER",
    "EXTERNAL",
    "ANONYMOUS",
    "GSSAPI",
    "NTLM",
];

const SMTP_COMMANDS: &[&str] = &[
    "HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "QUIT", "NOOP", "VRFY", "EXPN", "HELP", "AUTH",
    "STARTTLS", "BDAT", "ETRN", "TURN",
];

const POP3_COMMANDS: &[&str] = &[
    "USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET",
    "QUIT", "TOP", "UIDL", "UTF8",
];

/// IMAP commands that may stand alone on a line without a tag: the end of IDLE (RFC 2177).
const IMAP_LONE: &[&str] = &["DONE"];

/// A word delimiter: any white space or control character, or an octet that was not UTF-8
/// (shown as U+FFFD): none of them can be part of a command word.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || c.is_control() || c == char::REPLACEMENT_CHARACTER
}

/// The first word of `text` (after any delimiters) and what follows it, delimiters included.
fn first_word(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start_matches(is_delimiter);
    if text.is_empty() {
        return None;
    }
    let end = text.find(is_delimiter).unwrap_or(text.len());
    Some(text.split_at(end))
}

/// True when `rest` holds another word.
fn has_more(rest: &str) -> bool {
    first_word(rest).is_some()
}

/// `AUTH MECH <credentials hidden>`: the mechanism shown only when it is a known one.
fn sasl_start(verb: &str, rest: &str) -> String {
    let Some((mechanism, after)) = first_word(rest) else {
        return verb.to_string();
    };
    if !MECHANISMS.iter().any(|m| m.eq_ignore_ascii_case(mechanism)) {
        return format!("{verb} {CREDENTIALS}");
    }
    if has_more(after) {
        format!("{verb} {mechanism} {CREDENTIALS}")
    } else {
        format!("{verb} {mechanism}")
    }
}

/// A line that is one word and not a command of the protocol.
fn lone_word(text: &str, commands: &[&str]) -> bool {
    match first_word(text) {
        Some((word, rest)) => {
            !has_more(rest) && !commands.iter().any(|c| c.eq_ignore_ascii_case(word))
        }
        None => false,
    }
}

/// An SMTP command line as the transcript shows it. `sasl` is true while the session waits
/// for a line of an AUTH exchange (after `334`), which is nothing but credentials.
///
/// ```text
/// AUTH PLAIN AGFsaWNlAHB3      →  AUTH PLAIN <credentials hidden>
/// auth<TAB>login               →  auth login
/// ```
pub fn smtp(line: &str, sasl: bool) -> String {
    if sasl {
        return CREDENTIALS.to_string();
    }
    match first_word(line) {
        Some((verb, rest)) if verb.eq_ignore_ascii_case("AUTH") => sasl_start(verb, rest),
        _ if lone_word(line, SMTP_COMMANDS) => LONE_WORD.to_string(),
        _ => line.to_string(),
    }
}

/// A POP3 command line as the transcript shows it. `sasl` is true for the line after `+ ` in
/// an AUTH exchange (RFC 5034).
///
/// ```text
/// PASS my secret      →  PASS <password hidden>
/// APOP bob c4c9…      →  APOP bob <digest hidden>
/// ```
pub fn pop3(line: &str, sasl: bool) -> String {
    if sasl {
        return CREDENTIALS.to_string();
    }
    let Some((verb, rest)) = first_word(line) else {
        return line.to_string();
    };
    match verb.to_ascii_uppercase().as_str() {
        // Anything after PASS is the password, even white space or undecodable octets alone
        // (found by the fuzz target: `PASS` and three U+FFFD was logged as it was).
        "PASS" if !rest.is_empty() => format!("{verb} {PASSWORD}"),
        "AUTH" => sasl_start(verb, rest),
        "APOP" => match first_word(rest) {
            Some((name, after)) if has_more(after) => format!("{verb} {name} <digest hidden>"),
            Some(_) => format!("{verb} <digest hidden>"),
            None => verb.to_string(),
        },
        _ if lone_word(line, POP3_COMMANDS) => LONE_WORD.to_string(),
        _ => line.to_string(),
    }
}

/// One line of an IMAP command as the transcript shows it. `command_so_far` is what came
/// before this line in the same command (lines and literals), empty for a command's first
/// line: the line after a LOGIN's literal holds the password.
///
/// ```text
/// a1 LOGIN alice "pass word"   →  a1 LOGIN alice <password hidden>
/// a1 LOGIN {5}                 →  a1 LOGIN {5}           (then: <literal: 5 octets>)
///  {8}                         →  <rest of the LOGIN hidden>
/// a2 AUTHENTICATE PLAIN AGE…   →  a2 AUTHENTICATE PLAIN <credentials hidden>
/// ```
pub fn imap(line: &str, command_so_far: &str) -> String {
    if !command_so_far.is_empty() {
        return match login_or_authenticate(command_so_far) {
            Some(_) => "<rest of the LOGIN hidden>".to_string(),
            None => line.to_string(),
        };
    }
    let Some((verb, at)) = login_or_authenticate(line) else {
        if lone_word(line, IMAP_LONE) {
            return LONE_WORD.to_string();
        }
        return line.to_string();
    };
    let head = &line[..at];
    let rest = &line[at..];
    if verb.eq_ignore_ascii_case("AUTHENTICATE") {
        // `sasl_start` with no verb gives " MECH <credentials hidden>" (or less).
        return format!("{head}{}", sasl_start("", rest));
    }
    match imap_user(rest) {
        Some((user, after)) if has_more(after) => format!("{head} {user} {PASSWORD}"),
        Some((user, _)) => format!("{head} {user}"),
        None if has_more(rest) => format!("{head} {CREDENTIALS}"),
        None => head.to_string(),
    }
}

/// Finds LOGIN or AUTHENTICATE as the first or second word (the second after a tag, the first
/// when the tag was forgotten). Gives the verb and the offset just after it.
fn login_or_authenticate(line: &str) -> Option<(&str, usize)> {
    let mut offset = 0;
    let mut rest = line;
    for _ in 0..2 {
        let (word, after) = first_word(rest)?;
        offset += rest.len() - after.len();
        if word.eq_ignore_ascii_case("LOGIN") || word.eq_ignore_ascii_case("AUTHENTICATE") {
            return Some((word, offset));
        }
        rest = after;
    }
    None
}

/// The user name of a LOGIN as it may be shown: an atom, a quoted string (RFC 3501 §4.3) or a
/// literal's size `{5}`. `None` when the next word is none of these. Gives the rest after it.
fn imap_user(rest: &str) -> Option<(&str, &str)> {
    let text = rest.trim_start_matches(is_delimiter);
    if let Some(inner) = text.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in inner.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => return Some(text.split_at(i + 2)),
                c if is_delimiter(c) && c != ' ' => return None,
                _ => {}
            }
        }
        return None;
    }
    let (word, after) = first_word(text)?;
    let literal = word.starts_with('{') && word.ends_with('}');
    let atom = !word.contains(['{', '}', '"', '(', ')', '%', '*', '\\']);
    (literal || atom).then_some((word, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "Zs3cr3tZ";

    #[test]
    fn smtp_table() {
        let table = [
            ("AUTH PLAIN AGFsaWNlAHB3", "AUTH PLAIN <credentials hidden>"),
            (
                "AUTH\tPLAIN AGFsaWNlAHB3",
                "AUTH PLAIN <credentials hidden>",
            ),
            (
                "  auth  plain   AGFsaWNlAHB3  ",
                "auth plain <credentials hidden>",
            ),
            ("AUTH LOGIN", "AUTH LOGIN"),
            ("AUTH\x00PLAIN\x00x", "AUTH PLAIN <credentials hidden>"),
            (
                "AUTH\u{fffd}PLAIN\u{a0}x",
                "AUTH PLAIN <credentials hidden>",
            ),
            ("AUTH c2VjcmV0", "AUTH <credentials hidden>"),
            ("AUTH", "AUTH"),
            ("MAIL FROM:<alice@localhost>", "MAIL FROM:<alice@localhost>"),
            ("EHLO client.test", "EHLO client.test"),
            ("QUIT", "QUIT"),
            ("data", "data"),
            ("YWxpY2U=", LONE_WORD),
            ("MIAL FROM:<a@b>", "MIAL FROM:<a@b>"),
            ("", ""),
        ];
        for (line, shown) in table {
            assert_eq!(smtp(line, false), shown, "{line:?}");
        }
        assert_eq!(smtp("anything at all", true), CREDENTIALS);
    }

    #[test]
    fn pop3_table() {
        let table = [
            ("PASS secret", "PASS <password hidden>"),
            ("PASS\tsecret", "PASS <password hidden>"),
            ("pass  two words", "pass <password hidden>"),
            (" PASS x", "PASS <password hidden>"),
            ("PASS", "PASS"),
            ("USER bob", "USER bob"),
            (
                "APOP bob c4c9334bac560ecc979e58001b3e22fb",
                "APOP bob <digest hidden>",
            ),
            ("APOP\tbob\tc4c9", "APOP bob <digest hidden>"),
            ("APOP c4c9", "APOP <digest hidden>"),
            ("AUTH PLAIN AGJvYgBwdw==", "AUTH PLAIN <credentials hidden>"),
            (
                "AUTH\tPLAIN\tAGJvYgBwdw==",
                "AUTH PLAIN <credentials hidden>",
            ),
            ("AUTH", "AUTH"),
            ("STAT", "STAT"),
            ("RETR 1", "RETR 1"),
            ("cGFzc3dvcmQ=", LONE_WORD),
            // fuzz/artifacts: a password of delimiters only is a password too.
            (
                "PASS      \u{fffd}\u{fffd}\u{fffd}",
                "PASS <password hidden>",
            ),
            ("PASS \u{a0}\u{a0}", "PASS <password hidden>"),
        ];
        for (line, shown) in table {
            assert_eq!(pop3(line, false), shown, "{line:?}");
        }
        assert_eq!(pop3("AGJvYgBwdw==", true), CREDENTIALS);
    }

    #[test]
    fn imap_table() {
        let table = [
            ("a1 LOGIN alice secret", "a1 LOGIN alice <password hidden>"),
            (
                "a1  LOGIN alice secret",
                "a1  LOGIN alice <password hidden>",
            ),
            (
                "a1\tlogin\talice\tsecret",
                "a1\tlogin alice <password hidden>",
            ),
            (
                "a1 LOGIN \"alice\" \"pass word\"",
                "a1 LOGIN \"alice\" <password hidden>",
            ),
            (
                "a1 LOGIN \"al ice\" secret",
                "a1 LOGIN \"al ice\" <password hidden>",
            ),
            (
                "a1 LOGIN \"al\\\"ice\" pw",
                "a1 LOGIN \"al\\\"ice\" <password hidden>",
            ),
            (
                "a1 LOGIN \"unclosed secret",
                "a1 LOGIN <credentials hidden>",
            ),
            ("a1 LOGIN {5}", "a1 LOGIN {5}"),
            ("a1 LOGIN alice {6}", "a1 LOGIN alice <password hidden>"),
            ("a1 LOGIN alice", "a1 LOGIN alice"),
            ("LOGIN alice secret", "LOGIN alice <password hidden>"),
            (
                "a2 AUTHENTICATE PLAIN AGE=",
                "a2 AUTHENTICATE PLAIN <credentials hidden>",
            ),
            (
                "a2 authenticate\tplain\tAGE=",
                "a2 authenticate plain <credentials hidden>",
            ),
            ("a2 AUTHENTICATE PLAIN", "a2 AUTHENTICATE PLAIN"),
            (
                "a2 AUTHENTICATE c2VjcmV0",
                "a2 AUTHENTICATE <credentials hidden>",
            ),
            ("a3 SELECT INBOX", "a3 SELECT INBOX"),
            ("a4 UID FETCH 1:* (FLAGS)", "a4 UID FETCH 1:* (FLAGS)"),
            ("DONE", "DONE"),
            ("YWxpY2U=", LONE_WORD),
        ];
        for (line, shown) in table {
            assert_eq!(imap(line, ""), shown, "{line:?}");
        }
        assert_eq!(
            imap(" \"secret\"", "a1 LOGIN {5}\r\nalice"),
            "<rest of the LOGIN hidden>"
        );
        assert_eq!(
            imap(" {6}", "a1  login {5}\r\nalice"),
            "<rest of the LOGIN hidden>"
        );
        assert_eq!(imap(" NIL", "a5 APPEND INBOX {5}\r\nhello"), " NIL");
    }

    /// Every shape a secret-bearing command can take, built from these pieces: no secret in
    /// what is shown. (The fuzz target `redact` explores further.)
    #[test]
    fn no_shape_carries_a_secret() {
        let separators = [
            " ", "  ", "\t", " \t ", "\x0b", "\x00", "\r", "\u{fffd}", "\u{85}",
        ];
        let verbs = |v: &str| {
            [v.to_string(), v.to_ascii_lowercase(), {
                let mut mixed = v.to_ascii_lowercase();
                mixed.replace_range(..1, &v[..1]);
                mixed
            }]
        };
        for sep in separators {
            for lead in ["", sep] {
                for verb in verbs("AUTH") {
                    for mech in ["PLAIN", "login", SECRET] {
                        let line = format!("{lead}{verb}{sep}{mech}{sep}{SECRET}");
                        assert!(!smtp(&line, false).contains(SECRET), "{line:?}");
                        assert!(!pop3(&line, false).contains(SECRET), "{line:?}");
                    }
                }
                for verb in verbs("PASS") {
                    let line = format!("{lead}{verb}{sep}{SECRET}{sep}more");
                    assert!(!pop3(&line, false).contains(SECRET), "{line:?}");
                }
                for verb in verbs("APOP") {
                    let line = format!("{lead}{verb}{sep}bob{sep}{SECRET}");
                    assert!(!pop3(&line, false).contains(SECRET), "{line:?}");
                }
                for verb in verbs("LOGIN") {
                    for password in [
                        SECRET.to_string(),
                        format!("\"{SECRET}\""),
                        format!("\"a {SECRET}\""),
                    ] {
                        for user in ["alice", "\"alice\"", "\"a b\"", "{5}"] {
                            let line = format!("{lead}a1{sep}{verb}{sep}{user}{sep}{password}");
                            assert!(!imap(&line, "").contains(SECRET), "{line:?}");
                        }
                    }
                }
                for verb in verbs("AUTHENTICATE") {
                    let line = format!("{lead}a1{sep}{verb}{sep}PLAIN{sep}{SECRET}");
                    assert!(!imap(&line, "").contains(SECRET), "{line:?}");
                }
            }
            assert!(!smtp(SECRET, false).contains(SECRET));
            assert!(!pop3(SECRET, false).contains(SECRET));
            assert!(!imap(SECRET, "").contains(SECRET));
        }
    }
}
