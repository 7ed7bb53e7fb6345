//! Fitting text into the picture: an estimate of how wide a line is drawn, and wrapping at
//! spaces, so that no text in the SVG is ever cut off.
//!
//! An SVG has no text flow: each `<text>` is one line, and what does not fit runs out of its
//! box. The picture cannot ask the viewer's font for its widths, so it estimates them: exactly
//! for the monospaced font (DejaVu Sans Mono: every glyph 0.602 em), and on the wide side for
//! the proportional one, by classes of letters (DejaVu Sans, the widest of the usual fonts).
//! A line that comes out a little short is harmless; one that comes out too long would be cut.

/// Which font a line is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    Sans,
    Mono,
}

impl Font {
    /// The `font-family` for the SVG.
    pub fn family(self) -> &'static str {
        match self {
            Font::Sans => "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif",
            Font::Mono => "DejaVu Sans Mono, Menlo, Consolas, monospace",
        }
    }
}

/// How wide `c` is drawn, in ems.
fn em(c: char, font: Font) -> f32 {
    // East Asian wide characters take a whole em in either font.
    if ('\u{2e80}'..='\u{ffef}').contains(&c) {
        return 1.0;
    }
    if font == Font::Mono {
        return 0.602;
    }
    match c {
        'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' | 'I' => 0.34,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '/' => 0.44,
        'm' | 'w' | 'M' | 'W' | '@' | '%' => 1.0,
        '<' | '>' | '=' | '+' | '~' | '…' | '→' => 0.84,
        'A'..='Z' => 0.78,
        '0'..='9' => 0.64,
        _ => 0.64,
    }
}

/// The drawn width of `text` at `size` pixels.
pub fn width(text: &str, size: f32, font: Font) -> f32 {
    text.chars().map(|c| em(c, font) * size).sum()
}

/// Breaks `text` into lines no wider than `max` pixels: at spaces where it can, inside a word
/// only when the word alone is wider than a line. Every character is kept.
pub fn wrap(text: &str, max: f32, size: f32, font: Font) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let joined = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if width(&joined, size, font) <= max {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // The word alone: break it where it must.
        for c in word.chars() {
            if !line.is_empty() && width(&line, size, font) + em(c, font) * size > max {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_character_and_fits() {
        let text = "<carol@slow.b.test> deferred, will retry: 127.0.0.1:43397 said 451 4.7.1 greylisted, try again later (hint: this failure was injected on purpose; `postlab fault list` shows the rules)";
        for font in [Font::Sans, Font::Mono] {
            let lines = wrap(text, 300.0, 12.0, font);
            assert!(lines.len() > 1);
            assert_eq!(lines.join(" "), text, "nothing is cut or lost");
            for line in &lines {
                assert!(width(line, 12.0, font) <= 300.0, "{line}");
            }
        }
        let long = "x".repeat(200);
        let lines = wrap(&long, 100.0, 10.0, Font::Mono);
        assert_eq!(lines.concat(), long);
        assert!(lines.iter().all(|l| width(l, 10.0, Font::Mono) <= 100.0));
        assert_eq!(wrap("", 100.0, 10.0, Font::Sans), [""]);
    }
}
