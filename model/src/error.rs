//! Where an object came from, and errors that name file, line and object.

use std::fmt;
use std::sync::Arc;

/// The place an object was read from: a file (or `<stdin>`, or `cluster`) and a 1-based
/// line (0 when there is no line, as for objects read from the API server).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Source {
    pub file: Arc<str>,
    pub line: usize,
}

impl Source {
    pub fn new(file: impl Into<Arc<str>>, line: usize) -> Self {
        Source {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// A manifest that could not be turned into a model object.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub struct ManifestError {
    pub location: Source,
    /// `Kind namespace/name`, when the document got far enough to have one.
    pub object: Option<String>,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.object {
            Some(o) => write!(f, "{}: {}: {}", self.location, o, self.message),
            None => write!(f, "{}: {}", self.location, self.message),
        }
    }
}
