//! CONDSTORE and QRESYNC (RFC 7162): how a client that keeps a copy of a folder learns only
//! what changed since it last looked, instead of fetching every message's flags again.
//!
//! ```text
//! C: a1 ENABLE QRESYNC
//! S: * ENABLED QRESYNC
//! C: a2 SELECT INBOX (QRESYNC (1795012345 41 1:20))   ← UIDVALIDITY, MODSEQ, UIDs it knows
//! S: …the usual SELECT lines…
//! S: * OK [HIGHESTMODSEQ 57] Highest
//! S: * VANISHED (EARLIER) 3,7:9                         ← expunged since MODSEQ 41
//! S: * 4 FETCH (UID 5 FLAGS (\Seen) MODSEQ (50))         ← flags changed since MODSEQ 41
//! S: a2 OK [READ-WRITE] SELECT completed
//! ```
//!
//! Where the numbers come from: every message has a MODSEQ and the folder a HIGHESTMODSEQ,
//! given by `mailbox::uids` whenever a listing of the folder finds something changed, and
//! the folder's list file remembers the last expunged UIDs with their MODSEQ. This module
//! reads the new grammar (§7), keeps what a session has turned on ([`Tracking`]), and answers
//! the questions: what changed since n, what vanished since n.
//!
//! A session is *CONDSTORE-aware* after its first enabling command (§3.1: ENABLE, SELECT
//! (CONDSTORE), STATUS (HIGHESTMODSEQ), FETCH MODSEQ or CHANGEDSINCE, STORE UNCHANGEDSINCE,
//! SEARCH MODSEQ): from then on every untagged FETCH carries UID and MODSEQ (§3.2.4).
//! After `ENABLE QRESYNC`, expunges are told as `* VANISHED uids` instead of `* n EXPUNGE`
//! (§3.2.10.2), and SELECT may carry the QRESYNC parameter.
//!
//! Choices, each allowed by the RFC: one MODSEQ per message, not per flag (§3.1), so a STORE
//! UNCHANGEDSINCE fails for a message whose *other* flags changed (§3.1.12's finer scheme is
//! not done); a MODSEQ of 0 in CHANGEDSINCE or QRESYNC is read as "before everything" rather
//! than refused; values above 2^63 - 1 (§7) are refused with BAD. When a client asks about a
//! time older than the expunges the folder still remembers (`uids::MAX_EXPUNGED`), VANISHED
//! (EARLIER) lists every UID of its set that is not in the folder (§3.2.6), cut down by the
//! sequence match data when the client sends it (§3.2.5.2).

use super::flags::Flags;
use super::response::{self as r, Response};
use super::selected::Selected;
use super::session::Session;
use super::syntax::{expected, Cursor, Parsed};
use crate::mailbox::uids::{self, MAX_MODSEQ};

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

fn merge(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
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

/// The UIDs of `set` that vanished since `since` (§3.2.5.1, §3.2.6), as ranges.
///
/// With the history: the remembered expunges newer than `since`. Without it (`since` older
/// than the expunge floor): every UID of the set below UIDNEXT that is not in the folder,
/// from above the last pair of the match data that still holds (§3.2.5.2).
pub fn vanished(
    view: &Selected,
    since: u64,
    set: &[(u32, u32)],
    seq_match: Option<&[(u32, u32)]>,
) -> Vec<(u32, u32)> {
    let in_set = |uid: u32| {
        let at = set.partition_point(|&(_, high)| high < uid);
        set.get(at).is_some_and(|&(low, _)| low <= uid)
    };
    if since >= view.expunge_floor {
        let mut uids: Vec<u32> = view
            .expunged
            .iter()
            .filter(|&&(uid, modseq)| modseq > since && in_set(uid))
            .map(|&(uid, _)| uid)
            .collect();
        uids.sort_unstable();
        return ranges_of(uids);
    }
    // The client's knowledge holds up to the last pair that still matches (§3.2.5.2).
    let mut from = 1;
    for &(seq, uid) in seq_match.unwrap_or(&[]) {
        let index = seq as usize - 1;
        match view.messages.get(index) {
            Some(m) if m.uid == uid && !m.gone => from = uid.saturating_add(1),
            _ => break,
        }
    }
    let top = view.next_uid.saturating_sub(1);
    let present: Vec<u32> = view
        .messages
        .iter()
        .filter(|m| !m.gone)
        .map(|m| m.uid)
        .collect();
    let mut out = Vec::new();
    for &(low, high) in set {
        let (low, high) = (low.max(from), high.min(top));
        if low > high {
            continue;
        }
        // The gaps between the present UIDs inside low..=high.
        let mut next = low;
        let start = present.partition_point(|&u| u < low);
        for &uid in present[start..].iter().take_while(|&&u| u <= high) {
            if uid > next {
                out.push((next, uid - 1));
            }
            next = uid + 1;
        }
        if next <= high {
            out.push((next, high));
        }
    }
    merge(out)
}

impl Session {
    /// Turns CONDSTORE on (an enabling command, §3.1). The first time with a folder
    /// selected, the client hears the folder's HIGHESTMODSEQ.
    pub(super) fn condstore_on(&mut self) -> Vec<Response> {
        if self.tracking != Tracking::Off {
            return Vec::new();
        }
        self.tracking = Tracking::Condstore;
        match self.selected.as_mut() {
            Some(view) => {
                view.tracking = Tracking::Condstore;
                vec![highest_line(view)]
            }
            None => Vec::new(),
        }
    }

    /// RFC 5161 ENABLE, with the two capabilities it can turn on here (RFC 7162 §3.2.3).
    /// The ENABLED response lists what this command turned on, nothing else.
    pub(super) fn enable(&mut self, tag: &str, names: &[String]) -> Vec<Response> {
        let before = self.tracking;
        let mut enabled: Vec<&str> = Vec::new();
        for name in names {
            let want = match name.as_str() {
                "CONDSTORE" => Tracking::Condstore,
                "QRESYNC" => Tracking::Qresync,
                // RFC 5161 §3.2: capabilities we cannot enable are simply not listed.
                _ => continue,
            };
            if before < want && !enabled.contains(&name.as_str()) {
                enabled.push(name.as_str());
            }
            self.tracking = self.tracking.max(want);
        }
        if let Some(view) = self.selected.as_mut() {
            view.tracking = self.tracking;
        }
        let mut line = "ENABLED".to_string();
        for name in enabled {
            line.push(' ');
            line.push_str(name);
        }
        vec![Response::data(line), Response::ok(tag, "ENABLE completed")]
    }

    /// SELECT/EXAMINE with parameters (§3.1.8, §3.2.5): the plain SELECT, then what changed
    /// since the client's MODSEQ, before the tagged reply.
    pub(super) fn select_with(
        &mut self,
        tag: &str,
        name: &str,
        read_only: bool,
        params: SelectParams,
    ) -> Vec<Response> {
        if params.qresync.is_some() && self.tracking != Tracking::Qresync {
            return vec![Response::bad(
                tag,
                "QRESYNC needs ENABLE QRESYNC first (RFC 7162 §3.2.5)",
            )];
        }
        self.tracking = self.tracking.max(Tracking::Condstore);
        let mut out = self.select(tag, name, read_only);
        let Some(q) = params.qresync else {
            return out;
        };
        let Some(view) = self.selected.as_ref() else {
            return out;
        };
        // §3.2.5: a UIDVALIDITY that does not match means the client's cache is void.
        if q.validity != view.validity {
            return out;
        }
        let top = view.next_uid.saturating_sub(1);
        let known = q
            .known
            .unwrap_or_else(|| if top == 0 { Vec::new() } else { vec![(1, top)] });
        let mut news = Vec::new();
        let gone = vanished(view, q.modseq, &known, q.seq_match.as_deref());
        if !gone.is_empty() {
            news.push(Response::data(format!(
                "VANISHED (EARLIER) {}",
                set_text(&gone)
            )));
        }
        let in_known = |uid: u32| {
            let at = known.partition_point(|&(_, high)| high < uid);
            known.get(at).is_some_and(|&(low, _)| low <= uid)
        };
        for (i, m) in view.messages.iter().enumerate() {
            if m.modseq > q.modseq && in_known(m.uid) {
                news.push(Response::data(format!(
                    "{} FETCH (UID {} FLAGS {} MODSEQ ({}))",
                    i + 1,
                    m.uid,
                    view.flag_list(i),
                    m.modseq
                )));
            }
        }
        let at = out.len().saturating_sub(1);
        out.splice(at..at, news);
        out
    }

    /// For the messages that failed UNCHANGEDSINCE and whose change the client has not
    /// heard of: their flags and MODSEQ now, so it need not ask (RFC 7162 §3.1.3, Example 10).
    pub(super) fn modified_news(
        &mut self,
        modified: &[usize],
        now: Option<&uids::Numbered>,
    ) -> Vec<Response> {
        let Some(view) = self.selected.as_mut() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for &i in modified {
            let Some(modseq) = now.and_then(|n| n.modseq_of(view.messages[i].uid)) else {
                continue;
            };
            if modseq == view.messages[i].modseq {
                continue;
            }
            let Ok(Some(entry)) = view.current(i) else {
                continue;
            };
            let m = &mut view.messages[i];
            m.modseq = modseq;
            m.flags = Flags::from_maildir(&entry.flags);
            m.entry.flags = entry.flags;
            let uid = m.uid;
            out.push(Response::data(format!(
                "{} FETCH (UID {uid} MODSEQ ({modseq}) FLAGS {})",
                i + 1,
                view.flag_list(i)
            )));
        }
        out
    }
}

/// `* OK [HIGHESTMODSEQ n]` for the selected folder (§3.1.2.1).
pub fn highest_line(view: &Selected) -> Response {
    Response::status(
        "*",
        r::Status::Ok,
        Some(&format!("HIGHESTMODSEQ {}", view.reportable_highest())),
        "Highest",
    )
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
