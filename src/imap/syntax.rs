//! The small grammar pieces every IMAP command is built from (RFC 3501 §9): atoms, strings,
//! numbers, sequence sets, dates, flags. [`Cursor`] walks one framed command; each method is
//! named after the ABNF rule it reads and quotes that rule.
//!
//! A framed command still holds its literals inline, exactly as they came: `{5}` CRLF and then
//! five octets (`{5+}` for LITERAL+, RFC 7888). The framing layer has already checked their size
//! and read them, so here a literal is just another way to write a string.

/// A syntax error: what was expected, for the text of a `BAD` response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected(pub String);

pub type Parsed<T> = Result<T, Expected>;

pub fn expected<T>(what: &str) -> Parsed<T> {
    Err(Expected(format!("expected {what}")))
}

/// One end of a range in a sequence set: a number or `*` (the largest in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNumber {
    Value(u32),
    Star,
}

/// RFC 3501 §9 `sequence-set`: ranges like `1:4,7,9:*`, kept in a normal form so that
/// asking whether a number is in it costs O(log ranges), however the client wrote it.
///
/// A client may send thousands of overlapping ranges in any order (`5:9,1:3,2:7,…`); checking
/// each message against each range would cost messages × ranges for every SEARCH, FETCH or
/// STORE. So the ranges are sorted and merged once, when the set is read ([`SequenceSet::new`]):
/// the numeric ones become sorted, disjoint, non-adjacent intervals (binary search), and every
/// range with a `*` end is folded into one interval, since each of them contains `*` itself.
/// The number of intervals is bounded by the command line (64 KiB: at most 32,768 of them).
///
/// The intervals are shared (`Arc`), so a copy costs nothing: a saved search result
/// (`searchres.rs`) can stand in for every `$` of a command without being copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet {
    /// Numeric ranges `(low, high)`: sorted, disjoint, and with a gap between neighbours.
    ranges: std::sync::Arc<[(u32, u32)]>,
    /// The ranges with `*` at an end (`n:*`, `*:n`, `*`), as the lowest and the highest `n`
    /// among them: with `*` standing for L, `n:*` is min(n, L)..=max(n, L), and all of them
    /// together are min(low, L)..=max(high, L). `*` alone counts as (u32::MAX, 0): L..=L.
    star: Option<(u32, u32)>,
    /// RFC 5182 `$`: the saved result of the last `SEARCH RETURN (SAVE)`, which the session
    /// puts in its place (`searchres.rs`). Left unresolved, it contains nothing.
    saved: bool,
}

impl SequenceSet {
    /// Normalises ranges as written (each end a number or `*`, in either order).
    pub fn new(written: Vec<(SeqNumber, SeqNumber)>) -> SequenceSet {
        let mut ranges = Vec::with_capacity(written.len());
        let mut star: Option<(u32, u32)> = None;
        for (a, b) in written {
            match (a, b) {
                (SeqNumber::Value(a), SeqNumber::Value(b)) => ranges.push((a.min(b), a.max(b))),
                (SeqNumber::Value(n), SeqNumber::Star) | (SeqNumber::Star, SeqNumber::Value(n)) => {
                    let (low, high) = star.unwrap_or((u32::MAX, 0));
                    star = Some((low.min(n), high.max(n)));
                }
                (SeqNumber::Star, SeqNumber::Star) => star = Some(star.unwrap_or((u32::MAX, 0))),
            }
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (low, high) in ranges {
            match merged.last_mut() {
                Some(last) if low <= last.1.saturating_add(1) => last.1 = last.1.max(high),
                _ => merged.push((low, high)),
            }
        }
        SequenceSet {
            ranges: merged.into(),
            star,
            saved: false,
        }
    }

    /// `seq-last-command = "$"` (RFC 5182 §2.1, RFC 9051 §9).
    pub fn saved_result() -> SequenceSet {
        SequenceSet {
            ranges: Vec::new().into(),
            star: None,
            saved: true,
        }
    }

    /// Is this the `$` marker, to be replaced by the saved search result?
    pub fn is_saved_result(&self) -> bool {
        self.saved
    }

    /// Does `n` fall in the set, when `*` stands for `largest`? O(log ranges).
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        // The first interval that does not end below n is the only one that can hold it.
        let at = self.ranges.partition_point(|&(_, high)| high < n);
        let in_ranges = self.ranges.get(at).is_some_and(|&(low, _)| low <= n);
        let in_star = self
            .star
            .is_some_and(|(low, high)| low.min(largest) <= n && n <= high.max(largest));
        in_ranges || in_star
    }

    /// The set as sorted, merged ranges, with `*` standing for `largest` (RFC 7162's
    /// VANISHED walks the UIDs of a set: `condstore.rs`).
    pub fn resolved(&self, largest: u32) -> Vec<(u32, u32)> {
        let mut ranges = self.ranges.to_vec();
        if let Some((low, high)) = self.star {
            ranges.push((low.min(largest), high.max(largest)));
        }
        SequenceSet::new(
            ranges
                .into_iter()
                .map(|(a, b)| (SeqNumber::Value(a), SeqNumber::Value(b)))
                .collect(),
        )
        .ranges
        .to_vec()
    }

    /// How many numeric intervals remain after normalising (for tests and limits).
    pub fn intervals(&self) -> usize {
        self.ranges.len() + usize::from(self.star.is_some())
    }
}

/// A position in a framed command.
pub struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(input: &'a [u8]) -> Cursor<'a> {
        Cursor { input, pos: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    pub fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Consumes `text` (ASCII, case-insensitive) if it comes next.
    pub fn eat(&mut self, text: &str) -> bool {
        let end = self.pos + text.len();
        if end <= self.input.len()
            && self.input[self.pos..end].eq_ignore_ascii_case(text.as_bytes())
        {
            self.pos = end;
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, text: &str) -> Parsed<()> {
        if self.eat(text) {
            Ok(())
        } else {
            expected(&format!("'{text}'"))
        }
    }

    /// `SP`: exactly one space.
    pub fn sp(&mut self) -> Parsed<()> {
        self.expect(" ")
    }

    pub fn end(&self) -> Parsed<()> {
        if self.at_end() {
            Ok(())
        } else {
            expected("end of command")
        }
    }

    /// `ATOM-CHAR = <any CHAR except atom-specials>`;
    /// `atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials /
    /// resp-specials`. `extra` allows more (`]` in tags is not allowed, `%*` in list patterns is).
    fn take_while(&mut self, ok: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&ok) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// `atom = 1*ATOM-CHAR`
    pub fn atom(&mut self) -> Parsed<String> {
        let atom = self.take_while(is_atom_char);
        if atom.is_empty() {
            return expected("an atom");
        }
        Ok(String::from_utf8_lossy(atom).into_owned())
    }

    /// `tag = 1*<any ASTRING-CHAR except "+">`
    pub fn tag(&mut self) -> Parsed<String> {
        let tag = self.take_while(|b| is_astring_char(b) && b != b'+');
        if tag.is_empty() {
            return expected("a tag");
        }
        Ok(String::from_utf8_lossy(tag).into_owned())
    }

    /// `number = 1*DIGIT` (unsigned 32-bit); `nz-number` when `nonzero`.
    pub fn number(&mut self, nonzero: bool) -> Parsed<u32> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        let value = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<u32>().ok());
        match value {
            Some(0) if nonzero => expected("a number above 0"),
            Some(n) => Ok(n),
            None => expected("a number"),
        }
    }

    /// `string = quoted / literal`; `quoted = DQUOTE *QUOTED-CHAR DQUOTE`;
    /// `literal = "{" number "}" CRLF *CHAR8` (and `{n+}` from RFC 7888).
    pub fn string(&mut self) -> Parsed<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal(),
            _ => expected("a string"),
        }
    }

    fn quoted(&mut self) -> Parsed<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => return expected("a closing '\"'"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => out.push(c),
                        _ => return expected("\\\" or \\\\ after '\\' in a quoted string"),
                    }
                    self.pos += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn literal(&mut self) -> Parsed<Vec<u8>> {
        self.pos += 1;
        let size = self.number(false)? as usize;
        self.eat("+");
        self.expect("}\r\n")?;
        let end = self.pos + size;
        if end > self.input.len() {
            return expected("the literal's octets");
        }
        let bytes = self.input[self.pos..end].to_vec();
        self.pos = end;
        Ok(bytes)
    }

    /// `astring = 1*ASTRING-CHAR / string`
    pub fn astring(&mut self) -> Parsed<String> {
        match self.peek() {
            Some(b'"') | Some(b'{') => Ok(String::from_utf8_lossy(&self.string()?).into_owned()),
            _ => {
                let atom = self.take_while(is_astring_char);
                if atom.is_empty() {
                    return expected("an atom or a string");
                }
                Ok(String::from_utf8_lossy(atom).into_owned())
            }
        }
    }

    /// `mailbox = "INBOX" / astring`
    pub fn mailbox(&mut self) -> Parsed<String> {
        self.astring()
    }

    /// `list-mailbox = 1*list-char / string`; `list-char = ATOM-CHAR / list-wildcards /
    /// resp-specials`
    pub fn list_mailbox(&mut self) -> Parsed<String> {
        match self.peek() {
            Some(b'"') | Some(b'{') => Ok(String::from_utf8_lossy(&self.string()?).into_owned()),
            _ => {
                let text = self.take_while(|b| is_astring_char(b) || b == b'%' || b == b'*');
                if text.is_empty() {
                    return expected("a mailbox pattern");
                }
                Ok(String::from_utf8_lossy(text).into_owned())
            }
        }
    }

    /// `sequence-set = (seq-number / seq-range) *("," sequence-set)`;
    /// `seq-range = seq-number ":" seq-number`; `seq-number = nz-number / "*"`
    ///
    /// RFC 5182 adds `sequence-set =/ seq-last-command`, `seq-last-command = "$"`: `$` alone
    /// (not `$,3` nor `$:5`), standing for the saved search result.
    pub fn sequence_set(&mut self) -> Parsed<SequenceSet> {
        if self.eat("$") {
            return Ok(SequenceSet::saved_result());
        }
        let mut ranges = Vec::new();
        loop {
            let first = self.seq_number()?;
            let second = if self.eat(":") {
                self.seq_number()?
            } else {
                first
            };
            ranges.push((first, second));
            if !self.eat(",") {
                return Ok(SequenceSet::new(ranges));
            }
        }
    }

    fn seq_number(&mut self) -> Parsed<SeqNumber> {
        if self.eat("*") {
            Ok(SeqNumber::Star)
        } else {
            self.number(true)
                .map(SeqNumber::Value)
                .or_else(|_| expected("a sequence set like 1:4,7 or 2:*"))
        }
    }

    /// `flag-list = "(" [flag *(SP flag)] ")"`;
    /// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword /
    /// flag-extension`
    pub fn flag_list(&mut self) -> Parsed<Vec<String>> {
        self.expect("(")?;
        let mut flags = Vec::new();
        if self.eat(")") {
            return Ok(flags);
        }
        loop {
            flags.push(self.flag()?);
            if self.eat(")") {
                return Ok(flags);
            }
            self.sp()?;
        }
    }

    /// One flag: `\` atom (a system flag) or an atom (a keyword).
    pub fn flag(&mut self) -> Parsed<String> {
        let backslash = self.eat("\\");
        let atom = self.atom()?;
        Ok(if backslash { format!("\\{atom}") } else { atom })
    }

    /// `date = date-text / DQUOTE date-text DQUOTE`; `date-text = date-day "-" date-month "-"
    /// date-year`. Returns days since 1970-01-01.
    pub fn date(&mut self) -> Parsed<i64> {
        let quoted = self.eat("\"");
        let day = self.number(true)?;
        self.expect("-")?;
        let month = self.month()?;
        self.expect("-")?;
        let year = self.number(false)?;
        if quoted {
            self.expect("\"")?;
        }
        if day > 31 {
            return expected("a day of the month");
        }
        Ok(days_from_civil(i64::from(year), month, day))
    }

    fn month(&mut self) -> Parsed<u32> {
        for (i, name) in MONTHS.iter().enumerate() {
            if self.eat(name) {
                return Ok(i as u32 + 1);
            }
        }
        expected("a month (Jan … Dec)")
    }

    /// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`,
    /// e.g. `"26-Nov-2026 15:20:55 +0100"`. Returns seconds since 1970 (UTC).
    pub fn date_time(&mut self) -> Parsed<i64> {
        self.expect("\"")?;
        self.eat(" ");
        let day = self.number(true)?;
        self.expect("-")?;
        let month = self.month()?;
        self.expect("-")?;
        let year = self.number(false)?;
        self.sp()?;
        let hour = self.number(false)?;
        self.expect(":")?;
        let minute = self.number(false)?;
        self.expect(":")?;
        let second = self.number(false)?;
        self.sp()?;
        let sign = if self.eat("+") {
            1
        } else if self.eat("-") {
            -1
        } else {
            return expected("a time zone like +0100");
        };
        let zone = self.number(false)?;
        self.expect("\"")?;
        if day > 31 || hour > 23 || minute > 59 || second > 60 || zone > 2400 {
            return expected("a valid date-time");
        }
        let offset = sign * (i64::from(zone / 100) * 3600 + i64::from(zone % 100) * 60);
        let days = days_from_civil(i64::from(year), month, day);
        Ok(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset)
    }
}

pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a calendar date (the inverse of `clock`'s civil-from-days).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i64::from((month + 9) % 12); // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `ATOM-CHAR`: any CHAR except `atom-specials` (`(){ %*"\]` and controls).
pub fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b)
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials` (`]` allowed).
pub fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, range by range: what the normal form must agree with.
    fn naive(written: &[(SeqNumber, SeqNumber)], n: u32, largest: u32) -> bool {
        let value = |s: SeqNumber| match s {
            SeqNumber::Value(v) => v,
            SeqNumber::Star => largest,
        };
        written.iter().any(|&(a, b)| {
            let (low, high) = (value(a).min(value(b)), value(a).max(value(b)));
            (low..=high).contains(&n)
        })
    }

    #[test]
    fn sequence_sets_are_sorted_and_merged_once() {
        use SeqNumber::{Star, Value};
        let set = SequenceSet::new(vec![
            (Value(9), Value(7)),
            (Value(1), Value(2)),
            (Value(3), Value(3)),
            (Value(20), Value(30)),
            (Value(8), Value(12)),
        ]);
        assert_eq!(*set.ranges, [(1, 3), (7, 12), (20, 30)]);
        assert_eq!(set.star, None);
        // Issue 14: 100,000 overlapping ranges are one interval, so every lookup is one step.
        let many: Vec<_> = (1..=100_000u32)
            .rev()
            .map(|i| (Value(i), Value(i / 2 + 1)))
            .collect();
        let set = SequenceSet::new(many);
        assert_eq!(set.intervals(), 1);
        assert!(set.contains(1, 5) && set.contains(100_000, 5) && !set.contains(100_001, 5));
        let starred = SequenceSet::new(vec![(Value(5), Star), (Star, Star), (Star, Value(40))]);
        assert_eq!(starred.star, Some((5, 40)));
        assert_eq!(starred.intervals(), 1);
    }

    #[test]
    fn the_normal_form_agrees_with_the_definition() {
        use SeqNumber::{Star, Value};
        // A small deterministic generator (no dependency for a test).
        let mut seed = 0x2545_f491_u64;
        let mut next = |below: u32| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % u64::from(below)) as u32
        };
        for _ in 0..300 {
            let count = next(12) as usize + 1;
            let written: Vec<_> = (0..count)
                .map(|_| {
                    let mut end = || match next(8) {
                        0 => Star,
                        _ => Value(next(40) + 1),
                    };
                    (end(), end())
                })
                .collect();
            let set = SequenceSet::new(written.clone());
            for largest in [0, 1, 7, 25, 45] {
                for n in 0..=50 {
                    assert_eq!(
                        set.contains(n, largest),
                        naive(&written, n, largest),
                        "{written:?} n={n} largest={largest}"
                    );
                }
            }
        }
    }

    #[test]
    fn strings_sets_and_dates() {
        let mut c = Cursor::new(b"\"a \\\"b\\\"\" {3}\r\nxyz {2+}\r\nok plain");
        assert_eq!(c.string().unwrap(), b"a \"b\"");
        c.sp().unwrap();
        assert_eq!(c.astring().unwrap(), "xyz");
        c.sp().unwrap();
        assert_eq!(c.astring().unwrap(), "ok");
        c.sp().unwrap();
        assert_eq!(c.astring().unwrap(), "plain");
        let set = Cursor::new(b"1:3,7,9:*").sequence_set().unwrap();
        assert!(set.contains(2, 20) && set.contains(7, 20) && set.contains(15, 20));
        assert!(!set.contains(5, 20));
        assert!(Cursor::new(b"0:3").sequence_set().is_err());
        // RFC 5182 `$`: alone it is the saved result, and it contains nothing unresolved.
        let saved = Cursor::new(b"$").sequence_set().unwrap();
        assert!(saved.is_saved_result() && !saved.contains(1, 1));
        let mut c = Cursor::new(b"$,3");
        assert!(c.sequence_set().unwrap().is_saved_result() && c.end().is_err());
        assert!(Cursor::new(b"3,$").sequence_set().is_err());
        assert_eq!(Cursor::new(b"1-Jan-1970").date().unwrap(), 0);
        assert_eq!(Cursor::new(b"\"26-Nov-2026\"").date().unwrap(), 20_783);
        assert_eq!(
            Cursor::new(b"\"01-Jan-1970 01:00:00 +0100\"")
                .date_time()
                .unwrap(),
            0
        );
    }
}
