/// A sparse global secondary index: an item is in it only when it has both attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: String,
    pub pk: String,
    pub sk: String,
}

/// What an adapter needs to know of a table: its name and its indexes. Keys are always
/// `pk`/`sk`; items expire through the `expiresAt` attribute (epoch seconds) when TTL is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    pub indexes: Vec<IndexSpec>,
}

/// The attribute DynamoDB's TTL reads, on every table.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

impl TableSpec {
    pub fn new(name: impl Into<String>) -> Self {
        TableSpec { name: name.into(), indexes: Vec::new() }
    }

    /// Adds the conventional index `gsiN` keyed by `gsiNpk`/`gsiNsk`.
    pub fn with_index(mut self, name: &str) -> Self {
        self.indexes.push(IndexSpec { name: name.into(), pk: format!("{name}pk"), sk: format!("{name}sk") });
        self
    }

    pub fn index(&self, name: &str) -> Option<&IndexSpec> {
        self.indexes.iter().find(|i| i.name == name)
    }
}
