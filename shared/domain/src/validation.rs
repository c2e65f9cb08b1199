//! Field-level validation errors, collected so one answer names every wrong field.

use serde::Serialize;

/// One field that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON path of the field, e.g. `nightlyPrice.amount`.
    pub field: String,
    pub message: String,
}

/// Every field that is wrong in one input.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
#[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid(vec![FieldError { field: field.into(), message: message.into() }])
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), message: message.into() });
    }

    /// Adds the errors of a nested value under `prefix`.
    pub fn nest(&mut self, prefix: &str, inner: Invalid) {
        for e in inner.0 {
            self.0.push(FieldError { field: format!("{prefix}.{}", e.field), message: e.message });
        }
    }

    pub fn into_result(self) -> Result<(), Invalid> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// Checks a text field's trimmed length in characters.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let len = value.trim().chars().count();
        if len < min {
            self.push(field, if min == 1 { "must not be empty".to_string() } else { format!("must be at least {min} characters") });
        } else if value.chars().count() > max {
            self.push(field, format!("must be at most {max} characters"));
        } else if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            self.push(field, "must not contain control characters");
        }
    }
}
