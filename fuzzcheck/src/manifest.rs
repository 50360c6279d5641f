//! Target `manifest`: bytes through the manifest parser.

use crate::FILE;
use netfence_model::{parse_manifest, Object, ParsedManifest, Source};
use std::borrow::Cow;

/// The text a fuzz input stands for: invalid UTF-8 is replaced rather than skipped,
/// so that every input reaches the parser.
pub fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// The most lines any reader can see in `text`: `\n`, `\r\n` and a lone `\r` each end
/// one (YAML counts all three).
fn max_line(text: &str) -> usize {
    let b = text.as_bytes();
    let breaks = b
        .iter()
        .enumerate()
        .filter(|&(i, &c)| c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')))
        .count();
    breaks + 1
}

pub fn source_of(o: &Object) -> &Source {
    o.source()
}

/// A source must name the file it came from and a line of it (a user is sent there).
fn assert_located(what: &str, s: &Source, max: usize) {
    assert_eq!(&*s.file, FILE, "{what}: wrong file in {s}");
    assert!(
        (1..=max).contains(&s.line),
        "{what}: line {} outside the text's 1..={max}",
        s.line
    );
}

/// Parses `data`; asserts that it does not panic, that every error and every object
/// carries a real location, that errors say something, and that parsing is a
/// function of the text (the same input gives the same objects and errors).
pub fn check(data: &[u8]) -> ParsedManifest {
    let text = text(data);
    let parsed = parse_manifest(FILE, &text, crate::DEFAULT_NS);
    let max = max_line(&text);
    for e in &parsed.errors {
        assert_located(&format!("error {e}"), &e.location, max);
        assert!(
            !e.message.trim().is_empty(),
            "error without a message at {e}"
        );
    }
    for o in &parsed.objects {
        assert_located(&o.describe(), source_of(o), max);
    }
    let again = parse_manifest(FILE, &text, crate::DEFAULT_NS);
    assert_eq!(
        again.errors, parsed.errors,
        "errors differ between two parses"
    );
    assert_eq!(
        format!("{:?}", again.objects),
        format!("{:?}", parsed.objects),
        "objects differ between two parses"
    );
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_every_break_style() {
        assert_eq!(max_line(""), 1);
        assert_eq!(max_line("a\nb"), 2);
        assert_eq!(max_line("a\r\nb\rc\n"), 4);
    }

    #[test]
    #[should_panic(expected = "outside the text")]
    fn a_line_past_the_end_is_refused() {
        assert_located("x", &Source::new(FILE, 3), 2);
    }
}
