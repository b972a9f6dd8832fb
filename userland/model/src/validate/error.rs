//! The error a refused body or snapshot is answered with: the `Malformed`/`Invalid`
//! distinction (HTTP 400 vs 422), the machine-readable code and the field path.

/// Why a snapshot was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// Not parseable as JSON.
    #[error("malformed JSON: {message}")]
    Malformed {
        /// What the JSON parser said.
        message: String,
    },
    /// Well-formed JSON that breaks a rule; `field` is the path of the offending field.
    #[error("{message}")]
    Invalid {
        /// Machine-readable reason: `missing_field`, `invalid_type`, `invalid_field`,
        /// `empty_batch`, `batch_too_large`.
        code: &'static str,
        /// Path of the field, e.g. `cpu.usage_percent` or `[2].host`; empty for the body.
        field: String,
        /// Human-readable message that starts with the field path.
        message: String,
    },
}

impl ValidationError {
    pub(super) fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        let field = field.into();
        ValidationError::Invalid {
            code: "invalid_field",
            message: format!("{field} {message}"),
            field,
        }
    }

    /// The field path, if the error names one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ValidationError::Invalid { field, .. } if !field.is_empty() => Some(field),
            _ => None,
        }
    }

    /// Machine-readable error code for the JSON error shape.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationError::Malformed { .. } => "malformed_json",
            ValidationError::Invalid { code, .. } => code,
        }
    }

    /// Prefixes the field path (used for elements of an array).
    pub(super) fn within(self, prefix: &str) -> Self {
        match self {
            ValidationError::Invalid {
                code,
                field,
                message,
            } => {
                let joined = if field.is_empty() {
                    prefix.to_owned()
                } else if field.starts_with('[') {
                    format!("{prefix}{field}")
                } else {
                    format!("{prefix}.{field}")
                };
                let message = match message.strip_prefix(field.as_str()) {
                    Some(rest) if !field.is_empty() => format!("{joined}{rest}"),
                    _ => format!("{joined}: {message}"),
                };
                ValidationError::Invalid {
                    code,
                    field: joined,
                    message,
                }
            }
            other => other,
        }
    }
}
