//! The transcript's redaction (`postlab::redact`): no secret survives, whatever the line's
//! shape. Two ways of asking, both on every input:
//!
//! 1. The input as one line, read by each protocol's real parser: when the parser takes it for
//!    a secret-bearing command (AUTH with an initial response, PASS, APOP, LOGIN,
//!    AUTHENTICATE), the secret it found must not appear in what the transcript shows (unless
//!    the same text is also in a part that is meant to be shown, such as the user name).
//! 2. A line built around a marker in a secret's place: the input chooses the verb's case, the
//!    delimiters (any white space or control character), leading white space, the user name
//!    and the mechanism; the marker must never survive. This covers lines the parser refuses,
//!    which a user may still have typed a password into.
#![no_main]
use libfuzzer_sys::fuzz_target;
use postlab::redact;

const MARKER: &str = "QSECRETQ";

fuzz_target!(|input: &[u8]| {
    parsed_secrets(input);
    built_lines(input);
});

/// `secret` is long enough to be told apart and could not be spelled from what may be shown:
/// it has a character that no shown part (tag, user, mechanism), no verb and no placeholder
/// holds. (Without this, a password such as `1 LOGIN` would be "found" in the shown
/// `a1 LOGIN alice`.)
fn must_hide(secret: &str, shown_parts: &[&str]) -> bool {
    let fixed = [
        redact::CREDENTIALS,
        redact::PASSWORD,
        redact::LONE_WORD,
        "<digest hidden> <rest of the LOGIN hidden> AUTH PASS APOP LOGIN AUTHENTICATE",
    ];
    let alphabet: String = shown_parts
        .iter()
        .chain(fixed.iter())
        .flat_map(|p| p.chars())
        .collect::<String>()
        .to_lowercase();
    secret.len() >= 6
        && secret
            .to_lowercase()
            .chars()
            .any(|c| !alphabet.contains(c) && !c.is_whitespace() && !c.is_control())
}

fn parsed_secrets(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    // Every line of an AUTH exchange is hidden whole.
    assert_eq!(redact::smtp(&text, true), redact::CREDENTIALS);
    assert_eq!(redact::pop3(&text, true), redact::CREDENTIALS);

    if let Ok(postlab::smtp::command::Command::Auth {
        mechanism,
        initial: Some(secret),
    }) = postlab::smtp::command::parse(input)
    {
        if must_hide(&secret, &[&mechanism, "AUTH", "auth"]) {
            assert!(!redact::smtp(&text, false).contains(&secret), "{text:?}");
        }
    }
    use postlab::pop3::command::Command as Pop3;
    let pop3_secret = match postlab::pop3::command::parse(input) {
        Ok(Pop3::Pass(secret)) => Some((secret, String::new())),
        Ok(Pop3::Apop { name, digest }) => Some((digest, name)),
        Ok(Pop3::Auth {
            mechanism,
            initial: Some(secret),
        }) => Some((secret, mechanism)),
        _ => None,
    };
    if let Some((secret, shown)) = pop3_secret {
        if must_hide(&secret, &[&shown]) {
            assert!(!redact::pop3(&text, false).contains(&secret), "{text:?}");
        }
    }
    use postlab::imap::command::Command as Imap;
    if let Ok(tagged) = postlab::imap::command::parse(input) {
        let secret = match tagged.command {
            Imap::Login { user, password } => Some((password, user)),
            Imap::Authenticate {
                mechanism,
                initial: Some(secret),
            } => Some((secret, mechanism)),
            _ => None,
        };
        if let Some((secret, shown)) = secret {
            // A literal's octets are logged by size, never through `redact::imap`, so only a
            // password written on the line itself is asked about.
            let first_line = text.split("\r\n").next().unwrap_or("");
            if first_line.contains(&secret) && must_hide(&secret, &[&shown, &tagged.tag]) {
                assert!(!redact::imap(first_line, "").contains(&secret), "{text:?}");
            }
        }
    }
}

/// Takes bytes off the front of the input.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }
    /// One word of up to 12 octets: no delimiter, no marker letter, no quote in it.
    fn word(&mut self) -> String {
        let n = usize::from(self.byte() % 12);
        let take = n.min(self.0.len());
        let (word, rest) = self.0.split_at(take);
        self.0 = rest;
        let word: String = String::from_utf8_lossy(word)
            .chars()
            .filter(|&c| !(c.is_whitespace() || c.is_control() || "Q\"\\\u{fffd}".contains(c)))
            .collect();
        if word.is_empty() {
            "u".to_string()
        } else {
            word
        }
    }
    /// A run of delimiters: white space and control characters.
    fn separator(&mut self) -> String {
        const DELIMITERS: [char; 10] = [
            ' ', '\t', '\x0b', '\x0c', '\r', '\0', '\x1b', '\u{85}', '\u{a0}', '\u{fffd}',
        ];
        let n = usize::from(self.byte() % 3) + 1;
        (0..n)
            .map(|_| DELIMITERS[usize::from(self.byte()) % DELIMITERS.len()])
            .collect()
    }
    /// `verb` with each letter's case chosen by the input.
    fn cased(&mut self, verb: &str) -> String {
        let bits = self.byte();
        verb.chars()
            .enumerate()
            .map(|(i, c)| {
                if bits >> (i % 8) & 1 == 1 {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect()
    }
}

fn built_lines(input: &[u8]) {
    let mut b = Bytes(input);
    let shape = b.byte();
    let lead = if shape & 0x10 != 0 { b.separator() } else { String::new() };
    let sep1 = b.separator();
    let sep2 = b.separator();
    let word = b.word();
    let word = if shape & 0x20 != 0 { format!("\"{word}\"") } else { word };
    let tail = if shape & 0x40 != 0 {
        format!("{}{}", b.separator(), b.word())
    } else {
        String::new()
    };
    let secret = format!("{MARKER}{tail}");
    let (protocol, line) = match shape % 6 {
        0 => ("smtp", format!("{lead}{}{sep1}{word}{sep2}{secret}", b.cased("AUTH"))),
        1 => ("pop3", format!("{lead}{}{sep1}{secret}", b.cased("PASS"))),
        2 => ("pop3", format!("{lead}{}{sep1}{word}{sep2}{secret}", b.cased("APOP"))),
        3 => ("pop3", format!("{lead}{}{sep1}{word}{sep2}{secret}", b.cased("AUTH"))),
        4 => {
            let tag = b.word();
            let verb = b.cased("LOGIN");
            ("imap", format!("{lead}{tag}{sep1}{verb}{sep1}{word}{sep2}{secret}"))
        }
        _ => {
            let tag = b.word();
            let verb = b.cased("AUTHENTICATE");
            ("imap", format!("{lead}{tag}{sep1}{verb}{sep1}{word}{sep2}{secret}"))
        }
    };
    let shown = match protocol {
        "smtp" => redact::smtp(&line, false),
        "pop3" => redact::pop3(&line, false),
        _ => redact::imap(&line, ""),
    };
    assert!(!shown.contains(MARKER), "{protocol} {line:?} shown as {shown:?}");
}
