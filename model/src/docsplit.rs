//! Splitting a manifest stream into documents exactly as kubectl does
//! (k8s.io/apimachinery `yaml.NewYAMLOrJSONDecoder`): a stream starting with `{` is JSON
//! and is not split; otherwise every line that starts with `---` ends a document, and
//! anything but a comment after the `---` on that line is an error ("invalid Yaml
//! document separator"), never content silently dropped. A `%YAML`/`%TAG` directive is
//! rejected too: kubectl's splitter cuts it from its `---`, so kubectl cannot read such a
//! file.

/// One document: its text and the 1-based line of its first line in the stream.
#[derive(Debug, PartialEq)]
pub struct Chunk<'a> {
    pub text: &'a str,
    pub first_line: usize,
}

/// A stream kubectl would refuse, at a 1-based line.
#[derive(Debug, PartialEq)]
pub struct SplitError {
    pub line: usize,
    pub message: String,
}

/// A JSON stream: kubectl decodes successive JSON values; we read one, and anything
/// after it is an error at its line rather than content silently dropped.
fn json_stream(text: &str) -> Vec<Result<Chunk<'_>, SplitError>> {
    let end = json_value_end(text).unwrap_or(text.len());
    let mut out = vec![Ok(Chunk {
        text: &text[..end],
        first_line: 1,
    })];
    let rest = &text[end..];
    if let Some(at) = rest.find(|c: char| !c.is_whitespace()) {
        let line = 1 + text[..end + at].matches('\n').count();
        out.push(Err(SplitError {
            line,
            message: "content after the JSON document: a JSON stream holds one object here \
                      (put several in a `kind: List`, or write them as YAML documents)"
                .into(),
        }));
    }
    out
}

/// The byte just past the JSON value that starts `text` (after leading blanks), found by
/// matching brackets outside strings; `None` when it never closes (the parser then says
/// what is wrong).
fn json_value_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in text.bytes().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The documents of `text` (a leading UTF-8 BOM is skipped, as the YAML reader does).
/// Documents holding only blanks and comments are left out: kubectl decodes them as null
/// and skips them.
///
/// Reading stops at the first error, which comes last: kubectl reads nothing after it,
/// nor the document that a bad separator ends.
pub fn split(text: &str) -> Vec<Result<Chunk<'_>, SplitError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        return json_stream(text);
    }
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if let Some(rest) = line.strip_prefix("---") {
            let rest = rest.trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                chunks.push(Err(SplitError {
                    line: i + 1,
                    message: format!(
                        "invalid YAML document separator: `---` followed by `{rest}` \
                         (kubectl rejects content on the separator line)"
                    ),
                }));
                return chunks;
            }
            if !push(&mut chunks, &text[start..offset], start_line) {
                return chunks;
            }
            start = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    push(&mut chunks, &text[start..], start_line);
    chunks
}

type Chunks<'a> = Vec<Result<Chunk<'a>, SplitError>>;

/// Adds a document unless it is empty; false when it is an error (reading stops).
fn push<'a>(chunks: &mut Chunks<'a>, text: &'a str, first_line: usize) -> bool {
    let significant = text
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((i, line)) = significant else {
        return true;
    };
    if line.starts_with('%') {
        chunks.push(Err(SplitError {
            line: first_line + i,
            message: format!(
                "`{}`: YAML directives are not supported (kubectl splits a directive from its \
                 `---` and fails with \"did not find expected <document start>\")",
                line.trim_end()
            ),
        }));
        return false;
    }
    chunks.push(Ok(Chunk { text, first_line }));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<Chunk<'_>> {
        split(text).into_iter().map(Result::unwrap).collect()
    }

    fn err(text: &str) -> SplitError {
        split(text).pop().unwrap().unwrap_err()
    }

    #[test]
    fn separators_as_kubectl_reads_them() {
        let c = ok("a: 1\n--- # c\n# only\n---\nb: 2\n---\n");
        assert_eq!(
            c,
            vec![
                Chunk {
                    text: "a: 1\n",
                    first_line: 1
                },
                Chunk {
                    text: "b: 2\n",
                    first_line: 5
                }
            ]
        );
        // `...` is no separator for kubectl; ` ---` (indented) neither.
        assert_eq!(ok("a: 1\n...\n ---\n").len(), 1);
        // kubectl reads the documents before the one a bad separator ends, and no more.
        let s = split("a: 1\n---\nb: 2\n--- {kind: Pod}\nc: 3\n---\nd: 4\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].as_ref().unwrap().text, "a: 1\n");
        let e = err("a: 1\n--- {kind: Pod}\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("{kind: Pod}"), "{}", e.message);
        assert_eq!(err("----\n").line, 1);
        assert_eq!(ok("\u{feff}---\na: 1\n")[0].first_line, 2);
        assert_eq!(err("# x\n%YAML 1.1\n---\na: 1\n").line, 2);
        // JSON streams are never split.
        assert_eq!(ok(" {\"a\":\n\"---\"}").len(), 1);
    }

    #[test]
    fn content_after_a_json_document_is_an_error_not_dropped() {
        let text = "{\"a\": \"}{\"}\n---\n{\"b\": 1}\n";
        let chunks = split(text);
        assert_eq!(chunks.len(), 2, "{chunks:?}");
        assert_eq!(chunks[0].as_ref().unwrap().text, "{\"a\": \"}{\"}");
        assert_eq!(chunks[1].as_ref().unwrap_err().line, 2);
        assert_eq!(split("{\"a\": 1}\n\n").len(), 1);
    }
}
