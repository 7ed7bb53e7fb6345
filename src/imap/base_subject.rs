//! The "base subject" of RFC 5256 §2.1: a subject with the artifacts mail clients add taken
//! off (`Re:`, `Fwd:`, `[list-name]`, `(fwd)`, `[fwd: …]`), so that SORT (SUBJECT) and
//! THREAD put a reply beside the message it answers.
//!
//! ```text
//! "Re: [postlab] Fwd: Lab 3 (fwd)"   → "LAB 3"      (a reply or forward)
//! "[fwd: Re: hello]"                 → "HELLO"      (a reply or forward)
//! "[postlab]"                        → "[POSTLAB]"  (a blob alone is the subject itself)
//! ```
//!
//! The RFC asks every server to follow its seven steps exactly (a client that sorts offline
//! must get the same order), so [`base_subject`] is written as those steps, each with its
//! number. The input is the subject already decoded from RFC 2047 encoded words (step 1's
//! first half, done by the MIME parser); the output is upper-cased so that two base subjects
//! compare with a plain `==`/`cmp`: i;ascii-casemap (RFC 4790 §9.2) for ASCII, and simple
//! Unicode upper-casing beyond it (a step towards the i;unicode-casemap of RFC 5256 §7).
//!
//! Every step only shortens the text, and each pass of the loops takes something off or
//! stops, so the work is linear in the subject's length whatever a hostile subject holds.

/// The base subject (upper-cased) and whether the subject marks a reply or a forward (a
/// `subj-refwd`, a `(fwd)` trailer or `[fwd: …]` was removed: RFC 5256 §3, REFERENCES).
pub fn base_subject(decoded: &str) -> (String, bool) {
    // (1) Tabs and line breaks become spaces, runs of spaces one space.
    let mut text = String::with_capacity(decoded.len());
    for ch in decoded.chars() {
        let ch = if matches!(ch, '\t' | '\r' | '\n') {
            ' '
        } else {
            ch
        };
        if !(ch == ' ' && text.ends_with(' ')) {
            text.push(ch);
        }
    }
    let mut s: &str = &text;
    let mut reply = false;
    loop {
        // (2) Trailers: "(fwd)" and white space, as long as any is left.
        loop {
            if let Some(rest) = s.strip_suffix(' ') {
                s = rest;
            } else if s.len() >= 5 && s.is_char_boundary(s.len() - 5) {
                let (rest, tail) = s.split_at(s.len() - 5);
                if !tail.eq_ignore_ascii_case("(fwd)") {
                    break;
                }
                s = rest;
                reply = true;
            } else {
                break;
            }
        }
        // (5) Repeat (3) and (4) until neither takes anything off.
        loop {
            let before = s.len();
            // (3) Leaders: a `subj-refwd` after any blobs, or one white-space character.
            loop {
                if let Some(rest) = s.strip_prefix(' ') {
                    s = rest;
                } else if let Some(after) = refwd_leader(s) {
                    s = &s[after..];
                    reply = true;
                } else {
                    break;
                }
            }
            // (4) A blob at the front goes if something is left after it. Step (3) failed
            // just now at the end of this run of blobs, and would fail there again after each
            // one is removed, so the run goes in one go (the same result, in linear time).
            while let Some(after) = blob(s, 0) {
                if s[after..].is_empty() {
                    break;
                }
                s = &s[after..];
            }
            if s.len() == before {
                break;
            }
        }
        // (6) "[fwd:" … "]" around the whole: take both off, and start again from (2).
        let opens = s.len() >= 5 && s.is_char_boundary(5) && s[..5].eq_ignore_ascii_case("[fwd:");
        if opens && s.len() > 5 && s.ends_with(']') {
            s = &s[5..s.len() - 1];
            reply = true;
            continue;
        }
        // (7) What is left is the base subject.
        return (s.to_uppercase(), reply);
    }
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP` at `at`: where it ends, if one is there.
fn blob(s: &str, at: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    if bytes.get(at) != Some(&b'[') {
        return None;
    }
    let close = at
        + 1
        + bytes[at + 1..]
            .iter()
            .position(|&b| b == b']' || b == b'[')?;
    if bytes[close] != b']' {
        return None;
    }
    let mut end = close + 1;
    while bytes.get(end) == Some(&b' ') {
        end += 1;
    }
    Some(end)
}

/// `*subj-blob subj-refwd`, with `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`:
/// where it ends, if the text starts with one.
fn refwd_leader(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut at = 0;
    while let Some(end) = blob(s, at) {
        at = end;
    }
    let word = |w: &[u8]| {
        bytes
            .get(at..at + w.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(w))
    };
    at += if word(b"re") {
        2
    } else if word(b"fwd") {
        3
    } else if word(b"fw") {
        2
    } else {
        return None;
    };
    while bytes.get(at) == Some(&b' ') {
        at += 1;
    }
    if let Some(end) = blob(s, at) {
        at = end;
    }
    (bytes.get(at) == Some(&b':')).then_some(at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> String {
        base_subject(s).0
    }

    /// RFC 5256 §2.1 step by step, and §5's ABNF: each row is one rule.
    #[test]
    fn the_rfc_steps() {
        let table = [
            ("Hello", "HELLO", false),
            ("Re: Hello", "HELLO", true),
            ("RE:Hello", "HELLO", true),
            ("re : Hello", "HELLO", true),
            ("Fw: Hello", "HELLO", true),
            ("Fwd: Hello", "HELLO", true),
            ("Re: Re: Fwd: Hello", "HELLO", true),
            ("Re[2]: Hello", "HELLO", true),
            ("[list] Re: Hello", "HELLO", true),
            ("[list] Hello", "HELLO", false),
            ("[a][b] [c] Hello", "HELLO", false),
            ("[list]", "[LIST]", false),
            ("[a] [b]", "[B]", false),
            ("Hello (fwd)", "HELLO", true),
            ("Hello (FWD) (fwd)  ", "HELLO", true),
            ("[fwd: Hello]", "HELLO", true),
            ("[Fwd: Re: Hello (fwd)]", "HELLO", true),
            ("Re: [fwd: [list] Hello]", "HELLO", true),
            ("\tHello \t  world\r\n again", "HELLO WORLD AGAIN", false),
            ("", "", false),
            ("Re:", "", true),
            ("Red: alert", "RED: ALERT", false),
            ("Rewind", "REWIND", false),
            ("Fwdx: y", "FWDX: Y", false),
            ("[unclosed Re: x", "[UNCLOSED RE: X", false),
            ("[fwd:]", "", true),
            ("Re: Ünïcode", "ÜNÏCODE", true),
        ];
        for (subject, want, reply) in table {
            assert_eq!(
                base_subject(subject),
                (want.to_string(), reply),
                "{subject:?}"
            );
        }
    }

    #[test]
    fn hostile_subjects_are_linear() {
        let many_blobs = "[x]".repeat(200_000) + "y";
        assert_eq!(base(&many_blobs), "Y");
        let many_re = "Re: ".repeat(200_000) + "z";
        assert_eq!(base(&many_re), "Z");
        let nested = "[fwd: ".repeat(50_000) + "w" + &"]".repeat(50_000);
        assert_eq!(base(&nested), "W");
        let open = "[".repeat(200_000);
        assert_eq!(base(&open), open);
    }
}
