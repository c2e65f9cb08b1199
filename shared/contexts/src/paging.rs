//! Paged reads: what a caller may ask for.

/// `cursor` and `limit` of a paged read: a cursor this API gave out, 1 to 50 items (20 unless told).
pub fn page_params(cursor: Option<&str>, limit: Option<&str>) -> Result<(Option<crate::storage::cursor::Cursor>, usize), crate::domain::Invalid> {
    use crate::domain::Invalid;
    let limit = match limit {
        None => 20,
        Some(l) => l.parse::<usize>().ok().filter(|n| (1..=50).contains(n)).ok_or_else(|| Invalid::field("limit", "must be a whole number from 1 to 50"))?,
    };
    let cursor = cursor
        .filter(|c| !c.is_empty())
        .map(|c| crate::storage::cursor::Cursor::parse(c).map_err(|_| Invalid::field("cursor", "is not a cursor this API gave out")))
        .transpose()?;
    Ok((cursor, limit))
}
