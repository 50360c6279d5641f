//! Three-valued (Kleene) truth: a match the input can decide, or one that depends on
//! facts the manifests do not show (a namespace's labels, a template pod's address).

/// True, False, or Unknown: the input does not say.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    /// Kleene AND: False wins, then Unknown.
    pub fn and(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::False, _) | (_, Truth::False) => Truth::False,
            (Truth::Unknown, _) | (_, Truth::Unknown) => Truth::Unknown,
            _ => Truth::True,
        }
    }

    /// Kleene OR: True wins, then Unknown.
    pub fn or(self, other: Truth) -> Truth {
        match (self, other) {
            (Truth::True, _) | (_, Truth::True) => Truth::True,
            (Truth::Unknown, _) | (_, Truth::Unknown) => Truth::Unknown,
            _ => Truth::False,
        }
    }

    pub fn is_true(self) -> bool {
        self == Truth::True
    }

    /// True or Unknown: it could hold.
    pub fn is_possible(self) -> bool {
        self != Truth::False
    }
}

impl From<bool> for Truth {
    fn from(b: bool) -> Truth {
        if b {
            Truth::True
        } else {
            Truth::False
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Truth::{self, False, True, Unknown};

    #[test]
    fn kleene_tables() {
        let all = [True, False, Unknown];
        for a in all {
            assert_eq!(a.and(True), a);
            assert_eq!(a.and(False), False);
            assert_eq!(a.or(False), a);
            assert_eq!(a.or(True), True);
        }
        assert_eq!(Unknown.and(Unknown), Unknown);
        assert_eq!(Unknown.or(Unknown), Unknown);
        assert_eq!(Truth::from(true), True);
        assert!(Unknown.is_possible() && !Unknown.is_true());
    }
}
