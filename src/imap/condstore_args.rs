//! The grammar RFC 7162 (CONDSTORE and QRESYNC) adds to commands, §7: mod-sequence numbers,
//! SELECT's `(CONDSTORE)` and `(QRESYNC (…))`, FETCH's `(CHANGEDSINCE n [VANISHED])`, STORE's
//! `(UNCHANGEDSINCE n)` and SEARCH's `MODSEQ`, and the sets VANISHED answers with. Pure: no
//! I/O, no session; `condstore.rs` says what the numbers mean.
//!
//! ```text
//! C: a2 SELECT INBOX (QRESYNC (1795012345 41 1:20 (2,9 2,12)))
//! C: a3 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 41 VANISHED)
//! C: a4 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\Deleted)
//! C: a5 SEARCH MODSEQ "/flags/\\draft" all 620162338
//! ```

use super::syntax::{expected, Cursor, Parsed};
use crate::mailbox::uids::MAX_MODSEQ;

/// What a session has turned on, in the order they build on each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tracking {
    /// Plain IMAP4rev1: no MODSEQ in responses.
    #[default]
    Off,
    /// CONDSTORE-aware (§3.1): untagged FETCH carries UID and MODSEQ.
    Condstore,
    /// `ENABLE QRESYNC` (§3.2.3): also VANISHED instead of EXPUNGE.
    Qresync,
}

/// The QRESYNC select parameter (§3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    pub validity: u32,
    pub modseq: u64,
    /// The UIDs the client knows, sorted and merged; `None`: `1:<UIDNEXT - 1>`.
    pub known: Option<Vec<(u32, u32)>>,
    /// Sequence numbers and the UIDs the client has for them, in pairs.
    pub seq_match: Option<Vec<(u32, u32)>>,
}

/// `select-param`s: `(CONDSTORE)` or `(QRESYNC (…))` (§3.1.8, §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectParams {
    pub condstore: bool,
    pub qresync: Option<Qresync>,
}

/// FETCH modifiers (§3.1.4.1, §3.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FetchModifiers {
    pub changed_since: Option<u64>,
    pub vanished: bool,
}

/// `mod-sequence-valzer = "0" / mod-sequence-value`;
/// `mod-sequence-value = 1*DIGIT` (1 ≤ n ≤ 9,223,372,036,854,775,807, §7).
pub fn mod_sequence(c: &mut Cursor) -> Parsed<u64> {
    let digits = c.atom().or_else(|_| expected("a mod-sequence number"))?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return expected("a mod-sequence number");
    }
    match digits.parse::<u64>() {
        Ok(n) if n <= MAX_MODSEQ => Ok(n),
        _ => expected("a mod-sequence of at most 9223372036854775807 (RFC 7162 §7)"),
    }
}

/// A `sequence-set` of UIDs without `*` (§7 `known-uids`), as sorted, merged ranges. Its
/// size is bounded by the command line the framing layer accepts.
fn uid_ranges(c: &mut Cursor) -> Parsed<Vec<(u32, u32)>> {
    let mut ranges = Vec::new();
    loop {
        let low = c.number(true)?;
        let high = if c.eat(":") { c.number(true)? } else { low };
        ranges.push((low.min(high), low.max(high)));
        if !c.eat(",") {
            break;
        }
    }
    Ok(merge(ranges))
}

/// The same numbers in order, without `*` (the `seq-match-data` sets): each number once.
fn number_list(c: &mut Cursor, limit: usize) -> Parsed<Vec<u32>> {
    let mut numbers = Vec::new();
    loop {
        let low = c.number(true)?;
        let high = if c.eat(":") { c.number(true)? } else { low };
        if high < low {
            return expected("ascending sequence match data (RFC 7162 §3.2.5.2)");
        }
        // The ranges are spread into numbers to pair them: bounded, as a client needs only
        // a sample (§3.2.5.2).
        if numbers.len() + (high - low) as usize >= limit {
            return expected("at most 1024 numbers of sequence match data");
        }
        numbers.extend(low..=high);
        if !c.eat(",") {
            return Ok(numbers);
        }
    }
}

pub fn merge(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (low, high) in ranges {
        match merged.last_mut() {
            Some(last) if low <= last.1.saturating_add(1) => last.1 = last.1.max(high),
            _ => merged.push((low, high)),
        }
    }
    merged
}

/// `[SP "(" select-param *(SP select-param) ")"]` after SELECT/EXAMINE's mailbox, with
/// `select-param = "CONDSTORE" / "QRESYNC" SP "(" uidvalidity SP mod-sequence-value
/// [SP known-uids] [SP seq-match-data] ")"`; `seq-match-data = "(" known-sequence-set SP
/// known-uid-set ")"`.
pub fn select_params(c: &mut Cursor) -> Parsed<SelectParams> {
    let mut params = SelectParams::default();
    c.expect("(")?;
    loop {
        if c.eat("CONDSTORE") {
            params.condstore = true;
        } else if c.eat("QRESYNC (") {
            if params.qresync.is_some() {
                return expected("QRESYNC once");
            }
            let validity = c.number(true)?;
            c.sp()?;
            let modseq = mod_sequence(c)?;
            let mut q = Qresync {
                validity,
                modseq,
                known: None,
                seq_match: None,
            };
            if c.eat(" ") && c.peek() != Some(b'(') {
                q.known = Some(uid_ranges(c)?);
                c.eat(" ");
            }
            if c.eat("(") {
                let seqs = number_list(c, 1024)?;
                c.sp()?;
                let uids = number_list(c, 1024)?;
                c.expect(")")?;
                if seqs.len() != uids.len() {
                    return expected("as many UIDs as sequence numbers in the match data");
                }
                q.seq_match = Some(seqs.into_iter().zip(uids).collect());
            }
            c.expect(")")?;
            params.qresync = Some(q);
        } else {
            return expected("CONDSTORE or QRESYNC (…) as a SELECT parameter");
        }
        if c.eat(")") {
            return Ok(params);
        }
        c.sp()?;
    }
}

/// `[SP "(" fetch-modifier *(SP fetch-modifier) ")"]` with `"CHANGEDSINCE" SP
/// mod-sequence-value` and, for UID FETCH only, `"VANISHED"` (§3.1.4.1, §3.2.6).
pub fn fetch_modifiers(c: &mut Cursor, uid: bool) -> Parsed<FetchModifiers> {
    let mut m = FetchModifiers::default();
    if !c.eat(" (") {
        return Ok(m);
    }
    loop {
        if c.eat("CHANGEDSINCE ") {
            m.changed_since = Some(mod_sequence(c)?);
        } else if c.eat("VANISHED") {
            if !uid {
                return expected("VANISHED only in UID FETCH (RFC 7162 §3.2.6)");
            }
            m.vanished = true;
        } else {
            return expected("CHANGEDSINCE n or VANISHED as a FETCH modifier");
        }
        if c.eat(")") {
            break;
        }
        c.sp()?;
    }
    if m.vanished && m.changed_since.is_none() {
        return expected("VANISHED together with CHANGEDSINCE (RFC 7162 §3.2.6)");
    }
    Ok(m)
}

/// `[SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"]` before STORE's flags (§3.1.3).
pub fn store_modifier(c: &mut Cursor) -> Parsed<Option<u64>> {
    if !c.eat("(UNCHANGEDSINCE ") {
        return Ok(None);
    }
    let n = mod_sequence(c)?;
    c.expect(")")?;
    c.sp()?;
    Ok(Some(n))
}

/// `search-modsequence = "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer`
/// (§3.1.5), after the key's name. postlab keeps one MODSEQ per message, so the entry name
/// and type are read and ignored, as §3.1.5 asks of such a server.
pub fn search_modseq(c: &mut Cursor) -> Parsed<u64> {
    c.sp()?;
    if c.peek() == Some(b'"') {
        let name = c.string()?;
        if !name.to_ascii_lowercase().starts_with(b"/flags/") {
            return expected("an entry name like \"/flags/\\\\seen\"");
        }
        c.sp()?;
        let kind = c.atom()?.to_ascii_lowercase();
        if !["priv", "shared", "all"].contains(&kind.as_str()) {
            return expected("priv, shared or all after the entry name");
        }
        c.sp()?;
    }
    mod_sequence(c)
}

/// `1:3,5,9` from sorted ranges (RFC 3501 `sequence-set`).
pub fn set_text(ranges: &[(u32, u32)]) -> String {
    let parts: Vec<String> = ranges
        .iter()
        .map(|&(low, high)| {
            if low == high {
                low.to_string()
            } else {
                format!("{low}:{high}")
            }
        })
        .collect();
    parts.join(",")
}

/// Sorted numbers as sorted, merged ranges.
pub fn ranges_of(numbers: impl IntoIterator<Item = u32>) -> Vec<(u32, u32)> {
    merge(numbers.into_iter().map(|n| (n, n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T>(f: impl Fn(&mut Cursor) -> Parsed<T>, text: &str) -> Parsed<T> {
        let mut c = Cursor::new(text.as_bytes());
        let value = f(&mut c)?;
        c.end()?;
        Ok(value)
    }

    #[test]
    fn mod_sequences_are_63_bit() {
        assert_eq!(parse(mod_sequence, "0").unwrap(), 0);
        assert_eq!(
            parse(mod_sequence, "9223372036854775807").unwrap(),
            MAX_MODSEQ
        );
        for bad in [
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "999999999999999999999999999999",
            "-1",
            "12a",
            "",
        ] {
            assert!(parse(mod_sequence, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn select_params_parse() {
        let p = parse(
            select_params,
            "(QRESYNC (67890007 90060115194045000 41:211,214:541))",
        )
        .unwrap();
        let q = p.qresync.unwrap();
        assert_eq!((q.validity, q.modseq), (67890007, 90060115194045000));
        assert_eq!(q.known.unwrap(), [(41, 211), (214, 541)]);
        let p = parse(
            select_params,
            "(QRESYNC (1 2 1:29997 (5000,7500,9990:9999 15000,22500,29970:29979)))",
        )
        .unwrap();
        assert_eq!(p.qresync.unwrap().seq_match.unwrap().len(), 12);
        assert!(parse(select_params, "(CONDSTORE)").unwrap().condstore);
        for bad in [
            "(QRESYNC (0 1))",
            "(QRESYNC (1))",
            "(QRESYNC (1 2 1:*))",
            "(QRESYNC (1 2 1:5 (1,2 3)))",
            "(QRESYNC (1 18446744073709551616))",
            "(FROB)",
            "()",
        ] {
            assert!(parse(select_params, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fetch_and_store_modifiers_parse() {
        let m = parse(
            |c| fetch_modifiers(c, true),
            " (CHANGEDSINCE 12345 VANISHED)",
        )
        .unwrap();
        assert_eq!((m.changed_since, m.vanished), (Some(12345), true));
        assert!(parse(|c| fetch_modifiers(c, false), " (CHANGEDSINCE 1 VANISHED)").is_err());
        assert!(parse(|c| fetch_modifiers(c, true), " (VANISHED)").is_err());
        assert_eq!(
            parse(store_modifier, "(UNCHANGEDSINCE 0) ").unwrap(),
            Some(0)
        );
        assert_eq!(
            parse(search_modseq, " \"/flags/\\\\draft\" all 620162338").unwrap(),
            620162338
        );
        assert!(parse(search_modseq, " \"/x\" all 1").is_err());
    }

    #[test]
    fn sets_are_written_as_ranges() {
        assert_eq!(set_text(&ranges_of([1, 2, 3, 5, 7, 8])), "1:3,5,7:8");
    }
}
