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
//! the folder's list file remembers the last expunged UIDs with their MODSEQ. The new grammar
//! (§7) is read in `condstore_args.rs`; this module keeps what a session has turned on
//! ([`Tracking`]) and answers the questions: what changed since n, what vanished since n.
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

pub use super::condstore_args::Tracking;
use super::condstore_args::{ranges_of, set_text, SelectParams};
use super::flags::Flags;
use super::response::{self as r, Response};
use super::selected::Selected;
use super::session::Session;
use crate::mailbox::uids;

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
    super::condstore_args::merge(out)
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

    /// ENABLE CONDSTORE or QRESYNC (RFC 7162 §3.2.3): `None` when `name` is neither, else
    /// whether the ENABLED response lists it — only when it turns on something that was not
    /// on `before` the command (QRESYNC implies CONDSTORE, §3.2.3).
    pub(super) fn enable_tracking(&mut self, name: &str, before: Tracking) -> Option<bool> {
        let want = match name {
            "CONDSTORE" => Tracking::Condstore,
            "QRESYNC" => Tracking::Qresync,
            _ => return None,
        };
        self.tracking = self.tracking.max(want);
        if let Some(view) = self.selected.as_mut() {
            view.tracking = self.tracking;
        }
        Some(before < want)
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
        now: Option<&uids::Listing>,
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
