//! Configuration from the environment, as `template.yaml` (or `bnb-local`) sets it.

/// An environment variable, or a default.
pub fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

/// A variable a function cannot start without.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {0} is not set; this function cannot start without it (template.yaml sets it)")]
pub struct MissingVariable(pub String);

/// A variable the function needs: checked at start-up, so a function with a missing setting
/// stops at init naming it, instead of running with a guess.
pub fn required(var: &str) -> Result<String, MissingVariable> {
    std::env::var(var).ok().filter(|v| !v.is_empty()).ok_or_else(|| MissingVariable(var.to_owned()))
}
