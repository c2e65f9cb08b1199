//! The local user pool: the groups of each user, on the store's SQLite file. It stands in for
//! Cognito's groups in `bnb-local`, whose development sign-in puts a new user in `guest` (as the
//! pool's post-confirmation trigger does) and mints tokens carrying the user's groups.

use async_trait::async_trait;
use rusqlite::params;

use crate::store::EmbeddedStore;
use bnb_contexts::identity::{DirectoryError, Group, UserDirectory};
use bnb_contexts::storage::StorageError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS user_groups (
    user TEXT NOT NULL, grp TEXT NOT NULL, PRIMARY KEY (user, grp)
);
";

fn unavailable(e: StorageError) -> DirectoryError {
    DirectoryError::Unavailable(e.to_string())
}

fn sql(e: rusqlite::Error) -> StorageError {
    StorageError::Unavailable(format!("sqlite: {e}"))
}

#[derive(Clone)]
pub struct EmbeddedDirectory {
    store: EmbeddedStore,
}

impl EmbeddedDirectory {
    pub async fn open(store: EmbeddedStore) -> Result<EmbeddedDirectory, DirectoryError> {
        store.with_conn(|conn| conn.execute_batch(SCHEMA).map_err(sql)).await.map_err(unavailable)?;
        Ok(EmbeddedDirectory { store })
    }

    /// The user's groups, sorted; none for a user the pool has never seen.
    pub async fn groups(&self, user: &str) -> Result<Vec<String>, DirectoryError> {
        let user = user.to_owned();
        self.store
            .with_reader_as("directory groups", move |conn| {
                let mut stmt = conn.prepare_cached("SELECT grp FROM user_groups WHERE user = ?1 ORDER BY grp").map_err(sql)?;
                let rows = stmt.query_map(params![user], |row| row.get::<_, String>(0)).map_err(sql)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sql)
            })
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl UserDirectory for EmbeddedDirectory {
    async fn add_to_group(&self, user: &str, group: Group) -> Result<(), DirectoryError> {
        let user = user.to_owned();
        self.store
            .with_conn_as("directory add", move |conn| {
                conn.execute("INSERT OR IGNORE INTO user_groups (user, grp) VALUES (?1, ?2)", params![user, group.name()]).map(|_| ()).map_err(sql)
            })
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn groups_are_added_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path().join("bnb.db")).unwrap();
        let directory = EmbeddedDirectory::open(store).await.unwrap();
        assert!(directory.groups("mina").await.unwrap().is_empty());
        directory.add_to_group("mina", Group::Guest).await.unwrap();
        directory.add_to_group("mina", Group::Host).await.unwrap();
        directory.add_to_group("mina", Group::Host).await.unwrap();
        assert_eq!(directory.groups("mina").await.unwrap(), vec!["guest".to_string(), "host".to_string()]);
        assert!(directory.groups("someone-else").await.unwrap().is_empty());
    }
}
