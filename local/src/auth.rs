//! The local stand-in for API Gateway's JWT authorizer: HS256 tokens signed with a key kept in
//! the data folder. `bnb-local token` mints them; the gateway verifies them and hands the
//! function the claims exactly as API Gateway would (strings; arrays as `[a b]`).

use std::collections::HashMap;
use std::path::Path;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const ISSUER: &str = "bnb-local";
const SECRET_FILE: &str = "jwt-secret";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

/// The claims of a local token, shaped like a Cognito ID token's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(rename = "cognito:groups", default)]
    pub groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signs and verifies local tokens.
#[derive(Clone)]
pub struct Authority {
    secret: Vec<u8>,
}

impl Authority {
    /// The data folder's key, created on first use (readable by its owner only).
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Authority> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(SECRET_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().len() >= 32 => return Ok(Authority { secret: text.trim().as_bytes().to_vec() }),
            _ => {}
        }
        let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        write_private(&path, &secret)?;
        Ok(Authority { secret: secret.into_bytes() })
    }

    pub fn from_secret(secret: &[u8]) -> Authority {
        Authority { secret: secret.to_vec() }
    }

    pub fn mint(&self, sub: &str, groups: &[String], phone: Option<&str>, locale: Option<&str>, ttl_seconds: i64) -> Result<String, AuthError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: sub.to_owned(),
            groups: groups.to_vec(),
            phone_number: phone.map(str::to_owned),
            locale: locale.map(str::to_owned),
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + ttl_seconds,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&self.secret)).map_err(|e| AuthError::Invalid(e.to_string()))
    }

    /// Verifies an `Authorization` header's bearer token and returns its claims as API
    /// Gateway passes them to a function.
    pub fn verify(&self, authorization: Option<&str>) -> Result<HashMap<String, String>, AuthError> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        let data = decode::<HashMap<String, Value>>(token, &DecodingKey::from_secret(&self.secret), &validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
            _ => AuthError::Invalid(e.to_string()),
        })?;
        Ok(data.claims.into_iter().map(|(k, v)| (k, claim_text(&v))).collect())
    }
}

fn claim_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(claim_text).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_checked() {
        let authority = Authority::from_secret(b"0123456789abcdef0123456789abcdef");
        let token = authority.mint("alice", &["guest".into(), "host".into()], Some("+821012345678"), None, 60).unwrap();
        let claims = authority.verify(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["cognito:groups"], "[guest host]");
        assert_eq!(claims["phone_number"], "+821012345678");
        assert_eq!(authority.verify(None), Err(AuthError::Missing));
        let expired = authority.mint("alice", &[], None, None, -10).unwrap();
        assert_eq!(authority.verify(Some(&format!("Bearer {expired}"))), Err(AuthError::Expired));
        let other = Authority::from_secret(b"another-key-another-key-another-key");
        assert!(matches!(other.verify(Some(&format!("Bearer {token}"))), Err(AuthError::Invalid(_))));
    }
}
