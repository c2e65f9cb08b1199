//! Secrets (a dealer's API key): read from where they are kept (SSM SecureString on AWS; the
//! environment of `bnb-local`'s user), held in a type that never prints them.

use async_trait::async_trait;

/// A secret value. `Debug` and `Display` show `***`, so a secret in a struct never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it (a request header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret {name} could not be read: {reason}")]
pub struct SecretError {
    pub name: String,
    pub reason: String,
}

/// Where a secret is kept. A function on Lambda reads the secrets of the adapters it links in its
/// init (which Lambda does not bill to the first request), and a failed read is tried again at
/// first use.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret(&self) -> Result<Secret, SecretError>;

    /// Drops a value read before (the other side refused it: the secret may have been rotated),
    /// so the next [`SecretSource::secret`] reads it again.
    fn forget(&self) {}
}

/// A secret already in hand (`bnb-local`, from its user's environment; tests).
pub struct FixedSecret(pub Secret);

#[async_trait]
impl SecretSource for FixedSecret {
    async fn secret(&self) -> Result<Secret, SecretError> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        assert_eq!(s.expose(), "hunter2");
    }
}
