//! Label selectors written as kubectl's `-l` takes them (`app=web,tier!=db`,
//! `env in (a,b)`, `!canary`, `replicas>2`), to name the ends of a flow by their labels.

use netfence_model::selector::Requirement;
use netfence_model::validate;
use netfence_model::Labels;

/// One requirement of a selector; comma-separated requirements are ANDed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Term {
    /// `=`, `==`, `!=`, `in`, `notin`, `key`, `!key`: the API's set-based operators.
    Set(Requirement),
    /// `key>n`, `key<n`: the label is an integer greater (less) than n.
    Greater(String, i64),
    Less(String, i64),
}

impl Term {
    fn matches(&self, labels: &Labels) -> bool {
        let int = |k: &str| labels.get(k).and_then(|v| v.parse::<i64>().ok());
        match self {
            Term::Set(r) => r.matches(labels),
            Term::Greater(k, n) => int(k).is_some_and(|v| v > *n),
            Term::Less(k, n) => int(k).is_some_and(|v| v < *n),
        }
    }
}

/// A parsed selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelQuery {
    terms: Vec<Term>,
}

impl LabelQuery {
    pub fn matches(&self, labels: &Labels) -> bool {
        self.terms.iter().all(|t| t.matches(labels))
    }
}

/// True when `text` can only be a selector: names (and IPs) never hold these characters.
/// A lone key (`app`, "has the label app") reads as a name.
pub fn looks_like_selector(text: &str) -> bool {
    text.contains(['=', '!', '<', '>', '(', ')', ',', ' ', '\t'])
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    /// `=`, `==`, `!=`, `!`, `<`, `>`, `(`, `)`, `,`.
    Sym(&'a str),
}

fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let two = rest.get(..2);
        let sym_len = match (two, c) {
            (Some("==" | "!="), _) => 2,
            (_, '=' | '!' | '<' | '>' | '(' | ')' | ',') => 1,
            _ => 0,
        };
        if sym_len > 0 {
            out.push(Token::Sym(&rest[..sym_len]));
            rest = &rest[sym_len..];
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || "=!<>(),".contains(c))
            .unwrap_or(rest.len());
        out.push(Token::Word(&rest[..end]));
        rest = &rest[end..];
    }
    out
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    at: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn key(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(k)) => {
                validate::qualified_name(k).map_err(|e| format!("invalid label key {e}"))?;
                Ok(k.to_string())
            }
            Some(Token::Sym(s)) => Err(format!("expected a label key, found {s:?}")),
            None => Err("expected a label key at the end".into()),
        }
    }

    /// A value after `=`, `==` or `!=`: a word, or nothing (the empty value).
    fn value(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Token::Word(v)) => {
                let v = v.to_string();
                self.at += 1;
                validate::label_value(&v).map_err(|e| format!("invalid label value {e}"))?;
                Ok(v)
            }
            _ => Ok(String::new()),
        }
    }

    fn integer(&mut self, key: &str, op: &str) -> Result<i64, String> {
        match self.next() {
            Some(Token::Word(v)) => v
                .parse()
                .map_err(|_| format!("{key}{op}{v}: the value of {op} must be an integer")),
            _ => Err(format!("{key}{op}: expected an integer")),
        }
    }

    /// `(v1, v2, ...)`.
    fn values(&mut self, key: &str, op: &str) -> Result<Vec<String>, String> {
        if self.next() != Some(Token::Sym("(")) {
            return Err(format!("{key} {op}: expected '(' and a list of values"));
        }
        let mut values = Vec::new();
        loop {
            match self.next() {
                Some(Token::Word(v)) => {
                    validate::label_value(v).map_err(|e| format!("invalid label value {e}"))?;
                    values.push(v.to_string());
                    match self.next() {
                        Some(Token::Sym(",")) => {}
                        Some(Token::Sym(")")) => break,
                        _ => return Err(format!("{key} {op}: expected ',' or ')'")),
                    }
                }
                Some(Token::Sym(")")) if values.is_empty() => {
                    return Err(format!(
                        "{key} {op} (): the set of values must not be empty"
                    ))
                }
                _ => return Err(format!("{key} {op}: expected a value or ')'")),
            }
        }
        Ok(values)
    }

    fn term(&mut self) -> Result<Term, String> {
        let set = |key: &str, op: &str, values: Vec<String>| {
            Requirement::parse(key, op, &values).map(Term::Set)
        };
        if self.peek() == Some(&Token::Sym("!")) {
            self.at += 1;
            let key = self.key()?;
            return set(&key, "DoesNotExist", vec![]);
        }
        let key = self.key()?;
        match self.peek().cloned() {
            None | Some(Token::Sym(",")) => set(&key, "Exists", vec![]),
            Some(Token::Sym("=" | "==")) => {
                self.at += 1;
                let v = self.value()?;
                set(&key, "In", vec![v])
            }
            Some(Token::Sym("!=")) => {
                self.at += 1;
                let v = self.value()?;
                set(&key, "NotIn", vec![v])
            }
            Some(Token::Sym(">")) => {
                self.at += 1;
                Ok(Term::Greater(key.clone(), self.integer(&key, ">")?))
            }
            Some(Token::Sym("<")) => {
                self.at += 1;
                Ok(Term::Less(key.clone(), self.integer(&key, "<")?))
            }
            Some(Token::Word("in")) => {
                self.at += 1;
                let values = self.values(&key, "in")?;
                set(&key, "In", values)
            }
            Some(Token::Word("notin")) => {
                self.at += 1;
                let values = self.values(&key, "notin")?;
                set(&key, "NotIn", values)
            }
            Some(Token::Word(w) | Token::Sym(w)) => Err(format!(
                "after {key}: expected =, ==, !=, in, notin, > or <, found {w:?}"
            )),
        }
    }
}

/// Parses a selector with kubectl's syntax: requirements separated by commas, each
/// `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key`,
/// `!key`, `key>n` or `key<n`.
pub fn parse_selector(text: &str) -> Result<LabelQuery, String> {
    let mut p = Parser {
        tokens: tokens(text),
        at: 0,
    };
    let mut terms = vec![p.term()?];
    while let Some(t) = p.next() {
        if t != Token::Sym(",") {
            return Err("requirements must be separated by ','".into());
        }
        terms.push(p.term()?);
    }
    Ok(LabelQuery { terms })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_operator() {
        let web = labels(&[("app", "web"), ("tier", "front"), ("replicas", "3")]);
        let db = labels(&[("app", "db")]);
        for (text, on_web, on_db) in [
            ("app=web", true, false),
            ("app==web", true, false),
            ("app!=web", false, true),
            ("app in (web, api)", true, false),
            ("app notin (web,api)", false, true),
            ("tier", true, false),
            ("!tier", false, true),
            ("app=web,tier=front", true, false),
            ("app=web, tier=back", false, false),
            ("replicas>2", true, false),
            ("replicas<2", false, false),
            ("tier!=", true, true),
            ("app.kubernetes.io/name!=x", true, true),
        ] {
            let q = parse_selector(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(q.matches(&web), on_web, "{text} on web");
            assert_eq!(q.matches(&db), on_db, "{text} on db");
        }
    }

    #[test]
    fn malformed_selectors_say_what_is_wrong() {
        for (text, needle) in [
            ("app in ()", "must not be empty"),
            ("app in web", "expected '('"),
            ("app=web tier=x", "separated by ','"),
            ("=web", "expected a label key"),
            ("replicas>two", "must be an integer"),
            ("app=-bad", "invalid label value"),
            ("-app=x", "invalid label key"),
            ("app,", "at the end"),
        ] {
            let e = parse_selector(text).expect_err(text);
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn only_operator_characters_make_a_selector() {
        assert!(looks_like_selector("app=web"));
        assert!(looks_like_selector("!canary"));
        assert!(looks_like_selector("app in (a,b)"));
        assert!(!looks_like_selector("frontend"));
        assert!(!looks_like_selector("shop/deploy/frontend"));
        assert!(!looks_like_selector("10.0.0.0/8"));
    }
}
