//! Opaque page cursors: base64url of the last key a page returned.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::StorageError;

/// Where the next page starts. Callers pass it through unread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

/// What a cursor carries: the last key of the page (and its index key when paging an index).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastKey {
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isk: Option<String>,
}

impl Cursor {
    pub fn encode(last: &LastKey) -> Cursor {
        let json = serde_json::to_vec(last).unwrap_or_default();
        Cursor(URL_SAFE_NO_PAD.encode(json))
    }

    pub fn decode(&self) -> Result<LastKey, StorageError> {
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| StorageError::Invalid("cursor is not valid".into()))?;
        serde_json::from_slice(&bytes).map_err(|_| StorageError::Invalid("cursor is not valid".into()))
    }

    /// Reads a cursor a client sent back; whether it is valid shows when it is used.
    pub fn parse(text: &str) -> Result<Cursor, StorageError> {
        let cursor = Cursor(text.to_owned());
        cursor.decode()?;
        Ok(cursor)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
