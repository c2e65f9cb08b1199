use std::fmt;

use serde_json::{Map, Value};

use super::{StorageError, MAX_ITEM_BYTES};

/// An item: a JSON object whose `pk` and `sk` attributes are strings.
pub type Item = Map<String, Value>;

/// A primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key { pk: pk.into(), sk: sk.into() }
    }

    /// The key of an item, which must carry both key attributes as strings.
    pub fn of(item: &Item) -> Result<Key, StorageError> {
        match (attr_str(item, "pk"), attr_str(item, "sk")) {
            (Some(pk), Some(sk)) if !pk.is_empty() && !sk.is_empty() => Ok(Key::new(pk, sk)),
            _ => Err(StorageError::Invalid("an item needs non-empty string attributes `pk` and `sk`".into())),
        }
    }

    /// The key as a two-attribute item.
    pub fn to_item(&self) -> Item {
        let mut item = Item::new();
        item.insert("pk".into(), Value::String(self.pk.clone()));
        item.insert("sk".into(), Value::String(self.sk.clone()));
        item
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.pk, self.sk)
    }
}

/// A string attribute of an item, if it has one.
pub fn attr_str<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(Value::as_str)
}

/// A typed item as the port's item (a JSON object, which each adapter maps to its own storage).
pub fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, StorageError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(item)) => Ok(item),
        Ok(_) => Err(StorageError::Invalid(format!("{} is not stored as an object", std::any::type_name::<T>()))),
        Err(e) => Err(StorageError::Invalid(format!("{} does not serialize: {e}", std::any::type_name::<T>()))),
    }
}

/// A stored item read back as its type. A stored item that does not read is the store's fault
/// (written by an older or broken writer), so it is an outage to look at, not the caller's error.
pub fn from_item<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, StorageError> {
    T::deserialize(Value::Object(item.clone())).map_err(|e| StorageError::Unavailable(format!("stored {} does not read back: {e}", std::any::type_name::<T>())))
}

pub fn check_size(item: &Item) -> Result<(), StorageError> {
    let size = serde_json::to_vec(item).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_ITEM_BYTES {
        return Err(StorageError::Invalid(format!("item is {size} bytes; the limit is {MAX_ITEM_BYTES}")));
    }
    Ok(())
}
