//! A tiering reason as a policy sends it since WIT 0.4.0: a sentence with placeholders, and the
//! values to write into them. The host writes the sentence, so a policy compiled to wasm does
//! not pay for number formatting in wasm, and every policy's numbers read the same way.
//!
//! Placeholders: `{}` the next number as Rust displays an `f64` (`4`, `4.5`), `{:.N}` the next
//! number with N decimals (N from 0 to 9), `{text}` the next text; `{{` and `}}` are braces.

use std::fmt::Write;

/// A parsed template, borrowing its literal pieces from the template text.
#[derive(Debug, Clone, PartialEq)]
pub struct ReasonTemplate<'a> {
    pieces: Vec<Piece<'a>>,
    numbers: usize,
    texts: usize,
    literal_len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Piece<'a> {
    Literal(&'a str),
    /// A number, with its decimals when fixed.
    Number(Option<usize>),
    Text,
}

impl<'a> ReasonTemplate<'a> {
    /// Parses `template`; the error says what is wrong, quoting the template.
    pub fn parse(template: &'a str) -> Result<ReasonTemplate<'a>, String> {
        let mut pieces = Vec::new();
        let mut rest = template;
        while let Some(brace) = rest.find(['{', '}']) {
            if brace > 0 {
                pieces.push(Piece::Literal(&rest[..brace]));
            }
            rest = &rest[brace..];
            let (piece, len) = placeholder(rest)
                .ok_or_else(|| format!("reason template {template:?} has a bad placeholder"))?;
            pieces.push(piece);
            rest = &rest[len..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest));
        }
        let count = |wanted: fn(&Piece) -> bool| pieces.iter().filter(|p| wanted(p)).count();
        let literal_len = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Literal(text) => text.len(),
                _ => 0,
            })
            .sum();
        Ok(ReasonTemplate {
            numbers: count(|p| matches!(p, Piece::Number(_))),
            texts: count(|p| matches!(p, Piece::Text)),
            literal_len,
            pieces,
        })
    }

    /// How many numbers the template writes.
    pub fn numbers(&self) -> usize {
        self.numbers
    }

    /// How many texts the template writes.
    pub fn texts(&self) -> usize {
        self.texts
    }

    /// The sentence with `numbers` and `texts` written in, which must be exactly as many as
    /// the template has placeholders of each kind (checked by the caller, who knows whose
    /// values they are).
    pub fn render(&self, numbers: &[f64], texts: &[&str]) -> String {
        debug_assert_eq!((numbers.len(), texts.len()), (self.numbers, self.texts));
        let texts_len: usize = texts.iter().map(|text| text.len()).sum();
        let mut sentence = String::with_capacity(self.literal_len + texts_len + 12 * numbers.len());
        let (mut numbers, mut texts) = (numbers.iter(), texts.iter());
        for piece in &self.pieces {
            // Writing into a `String` cannot fail.
            let _ = match *piece {
                Piece::Literal(text) => sentence.write_str(text),
                Piece::Number(None) => write!(sentence, "{}", numbers.next().unwrap_or(&0.0)),
                Piece::Number(Some(decimals)) => {
                    write!(sentence, "{:.*}", decimals, numbers.next().unwrap_or(&0.0))
                }
                Piece::Text => sentence.write_str(texts.next().unwrap_or(&"")),
            };
        }
        sentence
    }
}

/// The placeholder or escaped brace at the start of `text`, with its length in bytes.
fn placeholder(text: &str) -> Option<(Piece<'_>, usize)> {
    if let Some(brace) = ["{{", "}}"].into_iter().find(|b| text.starts_with(b)) {
        return Some((Piece::Literal(&brace[..1]), 2));
    }
    let end = text.strip_prefix('{')?.find('}')? + 2;
    let piece = match &text[1..end - 1] {
        "" => Piece::Number(None),
        "text" => Piece::Text,
        spec => {
            let decimals = spec.strip_prefix(":.")?;
            if decimals.len() != 1 {
                return None;
            }
            Piece::Number(Some(decimals.parse().ok()?))
        }
    };
    Some((piece, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, numbers: &[f64], texts: &[&str]) -> String {
        ReasonTemplate::parse(template)
            .unwrap()
            .render(numbers, texts)
    }

    #[test]
    fn numbers_are_written_as_rust_writes_them() {
        let value = 1_234_567.5_f64;
        assert_eq!(
            render("orders {:.0} (threshold {})", &[value, 1e6], &[]),
            format!("orders {value:.0} (threshold {})", 1e6)
        );
        assert_eq!(render("CSAT {}", &[4.5], &[]), "CSAT 4.5");
        assert_eq!(render("ratio {:.1}×", &[1.25], &[]), "ratio 1.2×");
        assert_eq!(render("{} days", &[101.0], &[]), "101 days");
    }

    #[test]
    fn texts_and_braces() {
        assert_eq!(render("{text}: {{{}}}", &[3.0], &["host"]), "host: {3}");
        let template = ReasonTemplate::parse("{text} and {text} {:.2}").unwrap();
        assert_eq!((template.numbers(), template.texts()), (1, 2));
        assert_eq!(render("no placeholder", &[], &[]), "no placeholder");
    }

    #[test]
    fn a_bad_placeholder_is_refused() {
        for bad in [
            "{0}", "{:.10}", "{:x}", "open {", "close }", "{text", "{:.}",
        ] {
            assert!(ReasonTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
