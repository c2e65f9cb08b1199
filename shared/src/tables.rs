//! Every context's table: its name (from the environment, as `template.yaml` sets it) and its
//! indexes. One place, so the functions, the local runtime and the tests cannot disagree.

use crate::storage::TableSpec;

/// Rooms: `ROOM#<id>/ROOM`; `gsi1` = active rooms by city, `gsi2` = rooms by host.
pub fn rooms() -> TableSpec {
    TableSpec::new(table_name("ROOMS_TABLE", "rooms")).with_index("gsi1").with_index("gsi2")
}

/// Every table bnb has, for provisioning locally or on an AWS endpoint.
pub fn all() -> Vec<TableSpec> {
    vec![rooms()]
}

fn table_name(var: &str, default: &str) -> String {
    std::env::var(var).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}
