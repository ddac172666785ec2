//! A tiering reason as a policy sends it since WIT 0.4.0: a sentence with placeholders, and the
//! values to write into them. The host writes the sentence, so a policy compiled to wasm does
//! not pay for number formatting in wasm, and every policy's numbers read the same way.
//!
//! Placeholders: `{}` the next number as Rust displays an `f64` (`4`, `4.5`), `{:.N}` the next
//! number with N decimals (N from 0 to 9), `{:,}` the next number to the nearest whole with its
//! digits grouped by thousands (`1,234,568`), `{text}` the next text; `{{` and `}}` are braces.
//! Whole numbers take integer formatting, which writes the same digits as core's float
//! formatting far faster (its exact mode falls back to big-number arithmetic for them).

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
    /// A number to the nearest whole, digits grouped by thousands.
    Grouped,
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
            numbers: count(|p| matches!(p, Piece::Number(_) | Piece::Grouped)),
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
            let mut number = || numbers.next().copied().unwrap_or(0.0);
            match *piece {
                Piece::Literal(text) => sentence.push_str(text),
                Piece::Number(decimals) => write_number(&mut sentence, number(), decimals),
                Piece::Grouped => write_grouped(&mut sentence, number()),
                Piece::Text => sentence.push_str(texts.next().unwrap_or(&"")),
            }
        }
        sentence
    }
}

/// Below 2^53 every whole `f64` is exact and converts to `u64` unchanged.
const EXACT_WHOLES: f64 = 9_007_199_254_740_992.0;

/// `value` to the nearest whole (ties to even, as core's `{:.0}`) as its sign and magnitude,
/// when that whole is exact.
fn exact_whole(value: f64) -> Option<(bool, u64)> {
    let rounded = value.round_ties_even();
    (rounded.abs() < EXACT_WHOLES).then(|| (rounded.is_sign_negative(), rounded.abs() as u64))
}

/// `value` as `{}` (no decimals) or `{:.N}` writes it.
fn write_number(sentence: &mut String, value: f64, decimals: Option<usize>) {
    let whole = match decimals {
        None if value.fract() == 0.0 => exact_whole(value),
        Some(0) => exact_whole(value),
        _ => None,
    };
    // Writing into a `String` cannot fail.
    let _ = match (whole, decimals) {
        (Some((negative, magnitude)), _) => {
            if negative {
                sentence.push('-');
            }
            write!(sentence, "{magnitude}")
        }
        (None, None) => write!(sentence, "{value}"),
        (None, Some(decimals)) => write!(sentence, "{value:.decimals$}"),
    };
}

/// `value` to the nearest whole, a comma between groups of three digits.
fn write_grouped(sentence: &mut String, value: f64) {
    let (negative, digits) = match exact_whole(value) {
        Some((negative, magnitude)) => (negative && magnitude > 0, magnitude.to_string()),
        None => (value.is_sign_negative(), format!("{:.0}", value.abs())),
    };
    if negative {
        sentence.push('-');
    }
    for (index, digit) in digits.char_indices() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            sentence.push(',');
        }
        sentence.push(digit);
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
        ":," => Piece::Grouped,
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
    fn whole_numbers_read_as_core_writes_them() {
        for value in [
            0.0, -0.0, 0.5, 1.5, 2.5, -2.5, -0.4, 101.0, 99.99, 1e15, 9.1e15, 1e21, -3.0,
        ] {
            assert_eq!(
                render("{:.0}", &[value], &[]),
                format!("{value:.0}"),
                "{value}"
            );
            assert_eq!(render("{}", &[value], &[]), format!("{value}"), "{value}");
        }
        assert_eq!(render("{}", &[f64::NAN], &[]), "NaN");
        assert_eq!(render("{:.0}", &[f64::INFINITY], &[]), "inf");
    }

    #[test]
    fn grouped_wholes() {
        assert_eq!(render("{:,}", &[1_234_567.8], &[]), "1,234,568");
        assert_eq!(render("{:,}", &[999.0], &[]), "999");
        assert_eq!(render("{:,}", &[1000.0], &[]), "1,000");
        assert_eq!(render("{:,}", &[-1_234.0], &[]), "-1,234");
        assert_eq!(render("{:,}", &[-0.2], &[]), "0");
        assert_eq!(
            render("{:,}", &[1e21], &[]),
            "1,000,000,000,000,000,000,000"
        );
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
