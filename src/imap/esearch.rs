//! ESEARCH (RFC 4731): `SEARCH RETURN (…)` asks for the matches in a shorter form — the
//! lowest, the highest, how many, and all of them as a compact sequence set.
//!
//! ```text
//! C: a1 UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN
//! S: * ESEARCH (TAG "a1") UID MIN 2 MAX 9 COUNT 4 ALL 2:4,9
//! S: a1 OK SEARCH completed
//! ```
//!
//! The grammar is RFC 4466 §2.6's: `search = "SEARCH" [search-return-opts] SP search-program`,
//! `search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"`.
//! An empty list means `(ALL)` (RFC 4731 §3.1). The answer is one `ESEARCH` response tied to
//! the command by its tag (RFC 4466 `search-correlator`).

use super::response::quote;
use super::syntax::{expected, Cursor, Parsed};

/// Which parts of the result the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReturnOptions {
    pub min: bool,
    pub max: bool,
    pub count: bool,
    pub all: bool,
    /// RFC 5182 SAVE: remember the result for `$` (`searchres.rs`).
    pub save: bool,
}

/// Five options exist; a list longer than this is not a client asking for them.
const MAX_OPTIONS: usize = 8;

/// `search-return-opts`, the leading SP already read; `None` when the next word is not
/// RETURN (a plain RFC 3501 SEARCH).
pub fn parse_return(c: &mut Cursor) -> Parsed<Option<ReturnOptions>> {
    if !c.eat("RETURN ") {
        return Ok(None);
    }
    c.expect("(")?;
    let mut options = ReturnOptions::default();
    let mut seen = 0;
    while !c.eat(")") {
        if seen > 0 {
            c.sp()?;
        }
        seen += 1;
        if seen > MAX_OPTIONS {
            return expected("at most 8 RETURN options");
        }
        match c.atom()?.to_ascii_uppercase().as_str() {
            "MIN" => options.min = true,
            "MAX" => options.max = true,
            "COUNT" => options.count = true,
            "ALL" => options.all = true,
            "SAVE" => options.save = true,
            _ => return expected("MIN, MAX, COUNT, ALL or SAVE in RETURN (…)"),
        }
    }
    // RFC 4731 §3.1: "RETURN ()" is the same as "RETURN (ALL)".
    if seen == 0 {
        options.all = true;
    }
    c.sp()?;
    Ok(Some(options))
}

/// The `ESEARCH` response's text (after `* `) for the matches `found`, in ascending order.
/// MIN, MAX and ALL are left out when nothing matched; COUNT is always there (§3.1).
pub fn response(tag: &str, uid: bool, options: ReturnOptions, found: &[u32]) -> String {
    let mut out = format!("ESEARCH (TAG {})", quote(tag));
    if uid {
        out.push_str(" UID");
    }
    if let (Some(first), Some(last)) = (found.first(), found.last()) {
        if options.min {
            out.push_str(&format!(" MIN {first}"));
        }
        if options.max {
            out.push_str(&format!(" MAX {last}"));
        }
    }
    if options.count {
        out.push_str(&format!(" COUNT {}", found.len()));
    }
    if options.all && !found.is_empty() {
        out.push_str(&format!(" ALL {}", compact(found)));
    }
    out
}

/// Ascending numbers as a sequence set with runs written as ranges: `2,3,4,9` → `2:4,9`.
pub fn compact(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = numbers[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_become_ranges() {
        assert_eq!(compact(&[2, 3, 4, 9]), "2:4,9");
        assert_eq!(compact(&[2, 10, 11]), "2,10:11");
        assert_eq!(compact(&[7]), "7");
        assert_eq!(compact(&[]), "");
        assert_eq!(
            compact(&[1, 2, u32::MAX - 1, u32::MAX]),
            "1:2,4294967294:4294967295"
        );
    }

    #[test]
    fn options_and_responses() {
        let parse = |s: &str| parse_return(&mut Cursor::new(s.as_bytes()));
        let all = ReturnOptions {
            all: true,
            ..ReturnOptions::default()
        };
        assert_eq!(parse("RETURN () ALL"), Ok(Some(all)));
        assert_eq!(parse("ALL"), Ok(None));
        assert!(parse("RETURN (MIN BOGUS) ALL").is_err());
        assert!(parse("RETURN ((MIN)) ALL").is_err());
        assert!(parse("RETURN (MIN MIN MIN MIN MIN MIN MIN MIN MIN) ALL").is_err());
        let every = parse("return (min max count all) ALL").unwrap().unwrap();
        assert_eq!(
            response("a1", true, every, &[2, 3, 4, 9]),
            "ESEARCH (TAG \"a1\") UID MIN 2 MAX 9 COUNT 4 ALL 2:4,9"
        );
        assert_eq!(
            response("a2", false, every, &[]),
            "ESEARCH (TAG \"a2\") COUNT 0"
        );
    }
}
