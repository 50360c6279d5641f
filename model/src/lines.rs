//! Lines of a document, indexed once, so that pointing an error at a line costs the
//! lines of its own object rather than a rescan of the text from its start.

/// Byte offsets of the starts of the lines of a text.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        if starts.last() == Some(&text.len()) && !text.is_empty() {
            starts.pop();
        }
        LineIndex { text, starts }
    }

    /// The text indexed.
    pub fn text(&self) -> &'a str {
        self.text
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Line `i` (0-based), without its line break.
    pub fn line(&self, i: usize) -> &'a str {
        let start = self.starts[i];
        let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// The first line in `from..to` (0-based) that contains `needle` as a whole token, so
    /// that `80` does not match `8080` nor `in` match `networking`.
    pub fn find_token(&self, needle: &str, from: usize, to: usize) -> Option<usize> {
        (from..to.min(self.len())).find(|&i| contains_token(self.line(i), needle))
    }
}

fn contains_token(line: &str, needle: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '/');
    line.match_indices(needle).any(|(i, _)| {
        !line[..i].chars().next_back().is_some_and(word)
            && !line[i + needle.len()..].chars().next().is_some_and(word)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_tokens() {
        let idx = LineIndex::new("a: 8080\r\nb: 80\nc\n");
        assert_eq!(idx.len(), 3);
        assert_eq!(idx.line(0), "a: 8080");
        assert_eq!(idx.find_token("80", 0, 3), Some(1));
        assert_eq!(idx.find_token("80", 0, 1), None);
        assert_eq!(idx.find_token("c", 2, 99), Some(2));
    }
}
