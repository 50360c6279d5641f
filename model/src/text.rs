//! Manifest bytes to text. Loaders read bytes; this says where a file stops being UTF-8
//! (line and byte offset) so that the error points at the bad byte rather than only
//! naming the file.

use crate::error::{ManifestError, Source};

/// Where the first invalid UTF-8 sequence is: its 1-based line, its 1-based byte column
/// in that line, and its 0-based byte offset in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf8Position {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

/// The text of `bytes`, or where it is not UTF-8.
pub fn utf8(bytes: &[u8]) -> Result<&str, Utf8Position> {
    std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let before = &bytes[..offset];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Utf8Position {
            line: 1 + before.iter().filter(|&&b| b == b'\n').count(),
            column: 1 + offset - line_start,
            offset,
        }
    })
}

/// [`utf8`] with the error in the manifest error shape: `file:line: invalid UTF-8 ...`.
pub fn manifest_text<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, ManifestError> {
    utf8(bytes).map_err(|p| ManifestError {
        location: Source::new(file, p.line),
        object: None,
        message: format!(
            "invalid UTF-8 at byte {} (column {} of the line): manifests must be UTF-8 text",
            p.offset, p.column
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_the_bad_byte() {
        assert_eq!(utf8(b"a: b\n").unwrap(), "a: b\n");
        let p = utf8(b"a: b\nname: x\xffy\n").unwrap_err();
        assert_eq!(
            p,
            Utf8Position {
                line: 2,
                column: 8,
                offset: 12
            }
        );
        let e = manifest_text("f.yaml", b"\xc3").unwrap_err().to_string();
        assert_eq!(
            e,
            "f.yaml:1: invalid UTF-8 at byte 0 (column 1 of the line): manifests must be UTF-8 text"
        );
    }
}
