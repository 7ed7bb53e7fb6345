//! What a FETCH asks for (RFC 3501 §6.4.5, grammar in §9): the `fetch-att` items.
//!
//! ```text
//! C: a4 FETCH 1:3 (FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])
//! C: a5 FETCH 2 BODY[2.1.MIME]
//! C: a6 FETCH 1 BODY[]<0.100>
//! ```

use super::syntax::{expected, Cursor, Parsed};

/// One `fetch-att`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItem {
    Flags,
    InternalDate,
    Rfc822Size,
    Uid,
    Envelope,
    /// `BODY` without a section: BODYSTRUCTURE without extension data.
    Body,
    BodyStructure,
    /// `BODY[section]<partial>` or `BODY.PEEK[…]` (which does not set \Seen).
    Section {
        peek: bool,
        section: Section,
        partial: Option<(u32, u32)>,
    },
    /// RFC 3516 `BINARY[part]<partial>` or `BINARY.PEEK[…]`: the part decoded (`binary.rs`).
    Binary {
        peek: bool,
        part: Vec<u32>,
        partial: Option<(u32, u32)>,
    },
    /// RFC 3516 `BINARY.SIZE[part]`: the decoded part's size.
    BinarySize(Vec<u32>),
    /// `RFC822`: the whole message, sets \Seen; answered as `RFC822 {n}`.
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    /// RFC 7162 §3.1.4.2 `MODSEQ`.
    ModSeq,
}

/// `section-spec = section-msgtext / (section-part ["." section-text])`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// `section-part = nz-number *("." nz-number)`; empty for the whole message.
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

/// `section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"`, and
/// `section-text = section-msgtext / "MIME"`
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Header,
    HeaderFields { not: bool, fields: Vec<String> },
    Text,
    Mime,
}

impl FetchItem {
    /// Does answering this item set \Seen (RFC 3501 §6.4.5)?
    pub fn sets_seen(&self) -> bool {
        matches!(
            self,
            FetchItem::Section { peek: false, .. }
                | FetchItem::Binary { peek: false, .. }
                | FetchItem::Rfc822
                | FetchItem::Rfc822Text
        )
    }

    /// Does answering this item need the message's octets (not only what the folder knows)?
    pub fn needs_content(&self) -> bool {
        !matches!(
            self,
            FetchItem::Flags
                | FetchItem::Uid
                | FetchItem::Rfc822Size
                | FetchItem::InternalDate
                | FetchItem::ModSeq
        )
    }
}

/// `"ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")"`
pub fn parse_items(c: &mut Cursor) -> Parsed<Vec<FetchItem>> {
    use FetchItem::*;
    if c.eat("(") {
        let mut items = vec![fetch_att(c)?];
        while !c.eat(")") {
            c.sp()?;
            items.push(fetch_att(c)?);
        }
        return Ok(items);
    }
    // The macros (§6.4.5): only alone, never inside a list.
    for (name, items) in [
        ("ALL", vec![Flags, InternalDate, Rfc822Size, Envelope]),
        ("FAST", vec![Flags, InternalDate, Rfc822Size]),
        (
            "FULL",
            vec![Flags, InternalDate, Rfc822Size, Envelope, Body],
        ),
    ] {
        let rest_is_end = |c: &Cursor| c.at_end();
        if c.eat(name) {
            if rest_is_end(c) {
                return Ok(items);
            }
            return expected("end of command after the macro");
        }
    }
    Ok(vec![fetch_att(c)?])
}

/// `fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER" / ".SIZE" /
/// ".TEXT"] / "BODY" ["STRUCTURE"] / "UID" / "BODY" section ["<" number "." nz-number ">"] /
/// "BODY.PEEK" section ["<" number "." nz-number ">"]`
fn fetch_att(c: &mut Cursor) -> Parsed<FetchItem> {
    use FetchItem::*;
    // Longest names first, so RFC822.SIZE is not read as RFC822.
    let simple = [
        ("ENVELOPE", Envelope),
        ("FLAGS", Flags),
        ("INTERNALDATE", InternalDate),
        ("RFC822.HEADER", Rfc822Header),
        ("RFC822.SIZE", Rfc822Size),
        ("RFC822.TEXT", Rfc822Text),
        ("RFC822", Rfc822),
        ("BODYSTRUCTURE", BodyStructure),
        ("UID", Uid),
        ("MODSEQ", ModSeq),
    ];
    for (name, item) in simple {
        if c.eat(name) {
            return Ok(item);
        }
    }
    if c.eat("BINARY") {
        return binary(c);
    }
    if c.eat("BODY") {
        let peek = c.eat(".PEEK");
        if c.peek() != Some(b'[') {
            return if peek {
                expected("'[' after BODY.PEEK")
            } else {
                Ok(Body)
            };
        }
        let section = section(c)?;
        let partial = partial(c)?;
        return Ok(Section {
            peek,
            section,
            partial,
        });
    }
    expected("a FETCH item such as FLAGS, UID, RFC822.SIZE, BODY[] or BODY.PEEK[HEADER]")
}

/// `"<" number "." nz-number ">"`, if it comes next.
fn partial(c: &mut Cursor) -> Parsed<Option<(u32, u32)>> {
    if !c.eat("<") {
        return Ok(None);
    }
    let start = c.number(false)?;
    c.expect(".")?;
    let length = c.number(true)?;
    c.expect(">")?;
    Ok(Some((start, length)))
}

/// After `BINARY`: `[".PEEK"] section-binary [partial]` or `".SIZE" section-binary`;
/// `section-binary = "[" [section-part] "]"` (RFC 3516 §6): part numbers only, no HEADER,
/// TEXT or MIME (those are never encoded).
fn binary(c: &mut Cursor) -> Parsed<FetchItem> {
    let size = c.eat(".SIZE");
    let peek = !size && c.eat(".PEEK");
    c.expect("[")?;
    let mut part = Vec::new();
    if !c.eat("]") {
        loop {
            part.push(c.number(true)?);
            if c.eat("]") {
                break;
            }
            c.expect(".")?;
        }
    }
    if size {
        return Ok(FetchItem::BinarySize(part));
    }
    Ok(FetchItem::Binary {
        peek,
        part,
        partial: partial(c)?,
    })
}

/// `section = "[" [section-spec] "]"`
fn section(c: &mut Cursor) -> Parsed<Section> {
    c.expect("[")?;
    let mut section = Section::default();
    if c.eat("]") {
        return Ok(section);
    }
    while c.peek().is_some_and(|b| b.is_ascii_digit()) {
        section.part.push(c.number(true)?);
        if !c.eat(".") {
            c.expect("]")?;
            return Ok(section);
        }
    }
    let text = if c.eat("HEADER.FIELDS") {
        let not = c.eat(".NOT");
        c.sp()?;
        SectionText::HeaderFields {
            not,
            fields: header_list(c)?,
        }
    } else if c.eat("HEADER") {
        SectionText::Header
    } else if c.eat("TEXT") {
        SectionText::Text
    } else if !section.part.is_empty() && c.eat("MIME") {
        SectionText::Mime
    } else {
        return expected("HEADER, HEADER.FIELDS (…), TEXT or MIME in the section");
    };
    section.text = Some(text);
    c.expect("]")?;
    Ok(section)
}

/// `header-list = "(" header-fld-name *(SP header-fld-name) ")"`
fn header_list(c: &mut Cursor) -> Parsed<Vec<String>> {
    c.expect("(")?;
    let mut fields = vec![c.astring()?];
    while !c.eat(")") {
        c.sp()?;
        fields.push(c.astring()?);
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(text: &str) -> Parsed<Vec<FetchItem>> {
        let mut c = Cursor::new(text.as_bytes());
        let items = parse_items(&mut c)?;
        c.end()?;
        Ok(items)
    }

    #[test]
    fn fetch_items_parse() {
        assert_eq!(items("FAST").unwrap().len(), 3);
        assert_eq!(
            items("(UID RFC822.SIZE)").unwrap(),
            [FetchItem::Uid, FetchItem::Rfc822Size]
        );
        assert_eq!(
            items("BODY.PEEK[2.1.MIME]<0.10>").unwrap(),
            [FetchItem::Section {
                peek: true,
                section: Section {
                    part: vec![2, 1],
                    text: Some(SectionText::Mime)
                },
                partial: Some((0, 10)),
            }]
        );
        assert_eq!(
            items("BODY[HEADER.FIELDS.NOT (To \"Cc\")]").unwrap(),
            [FetchItem::Section {
                peek: false,
                section: Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFields {
                        not: true,
                        fields: vec!["To".into(), "Cc".into()]
                    })
                },
                partial: None,
            }]
        );
        assert_eq!(
            items("(BINARY.PEEK[1.2]<0.10> BINARY.SIZE[3] BINARY[])").unwrap(),
            [
                FetchItem::Binary {
                    peek: true,
                    part: vec![1, 2],
                    partial: Some((0, 10)),
                },
                FetchItem::BinarySize(vec![3]),
                FetchItem::Binary {
                    peek: false,
                    part: vec![],
                    partial: None,
                },
            ]
        );
        for bad in [
            "(ALL)",
            "BODY[MIME]",
            "BODY.PEEK",
            "FROB",
            "BODY[1.]",
            "BINARY[1.TEXT]",
            "BINARY[HEADER]",
            "BINARY.SIZE[1]<0.1>",
            "BINARY[0]",
            "BINARY",
        ] {
            assert!(items(bad).is_err(), "{bad}");
        }
    }
}
