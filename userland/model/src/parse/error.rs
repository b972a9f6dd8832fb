//! The error every parser returns.

/// Why a file's text could not be parsed. Every variant names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A required field or line is absent (also what truncated input produces).
    #[error("{file}: missing {field}")]
    Missing {
        /// The file, e.g. `/proc/meminfo`.
        file: &'static str,
        /// The field or line that is missing.
        field: &'static str,
    },
    /// A field is present but its value does not parse.
    #[error("{file}: {field} has invalid value {value:?}")]
    Invalid {
        /// The file.
        file: &'static str,
        /// The field.
        field: &'static str,
        /// The offending text (at most 64 bytes).
        value: String,
    },
    /// The text does not have the file's shape (bad JSON, no parentheses around comm, …).
    #[error("{file}: malformed: {message}")]
    Malformed {
        /// The file.
        file: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl ParseError {
    pub(crate) fn from_json(file: &'static str, e: &serde_json::Error) -> Self {
        ParseError::Malformed {
            file,
            message: e.to_string(),
        }
    }

    /// The file the error is about.
    pub fn file(&self) -> &'static str {
        match self {
            ParseError::Missing { file, .. }
            | ParseError::Invalid { file, .. }
            | ParseError::Malformed { file, .. } => file,
        }
    }
}
