//! From a database URL to an opened, migrated store of either kind.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::store::{PgStore, SqliteStore};

/// An opened, migrated database of either kind.
pub enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("database URL {0:?} is not supported: use sqlite://PATH or postgres://USER@HOST/DB")]
    Scheme(String),
    #[error("database URL {url:?} is malformed: {source}")]
    Url {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot connect to {what}: {source}")]
    Connect {
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot create the database file {path}: {source}")]
    Create {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot give users from before migration 0005 their email key: {0}")]
    EmailKeys(#[source] latchkey_core::store::StoreError),
}

/// Opens (creating an SQLite file on first use) and migrates the database at `url`.
pub async fn open(url: &str) -> Result<Backend, OpenError> {
    let backend = connect(url).await?;
    backend.migrate().await?;
    Ok(backend)
}

impl Backend {
    /// Applies the migrations the database lacks; returns them (`0003 successor sweep`), oldest
    /// first.
    pub async fn migrate(&self) -> Result<Vec<String>, OpenError> {
        Ok(match self {
            Backend::Sqlite(s) => s.migrate().await?,
            Backend::Postgres(s) => s.migrate().await?,
        })
    }
}

/// Connects without migrating (for `latchkey migrate`, which reports what it applied).
pub async fn connect(url: &str) -> Result<Backend, OpenError> {
    let malformed = |source| OpenError::Url {
        url: url.to_owned(),
        source,
    };
    if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url).map_err(malformed)?;
        // An in-memory database has no file (sqlx names it `file:sqlx-in-memory-N` for SQLite).
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            create_private(options.get_filename()).map_err(|source| OpenError::Create {
                path: options.get_filename().display().to_string(),
                source,
            })?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL loses at most the last transactions on power loss, never integrity.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // Under a steady write load the WAL otherwise keeps the size of its largest burst
            // (169 MB beside a 17 MB database in bench/run.sh): truncate it after checkpoints.
            .pragma("journal_size_limit", "67108864")
            // A multi-row INSERT or UPDATE keeps a statement journal, to undo itself alone if a
            // row fails; in memory rather than in a temporary file it costs no system calls.
            .pragma("temp_store", "memory")
            // Each connection's page cache, 1 MiB rather than 2: SQLite drops a connection's
            // whole cache whenever another commits, so under writes a larger one stays empty,
            // and the operating system caches the file anyway.
            .pragma("cache_size", "-1024")
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(|source| OpenError::Connect {
                what: redact(url),
                source,
            })?;
        Ok(Backend::Sqlite(SqliteStore::new(pool)))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let options = PgConnectOptions::from_str(url).map_err(malformed)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // How long a request may wait for a connection before it is told to come back (503
            // with Retry-After): a database that is down, or one so busy that every connection
            // stays taken this long. Writes of a group commit wait in turn, so a request may wait
            // a few of these while the database is away.
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await
            .map_err(|source| OpenError::Connect {
                what: redact(url),
                source,
            })?;
        Ok(Backend::Postgres(PgStore::new(pool)))
    } else {
        Err(OpenError::Scheme(redact(url)))
    }
}

/// Creates a new SQLite file readable by its owner alone (0600). SQLite gives the WAL and shared
/// memory files the database file's mode, so they are private too; it would otherwise create all
/// three under the umask, usually world-readable, with every token hash in them.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        return Ok(());
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    match open.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A database URL fit for logs: any password is replaced.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_sqlite_database_and_its_wal_are_private() {
        use latchkey_core::store::AuthzStore;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("fresh.db");
        let Backend::Sqlite(store) = open(&format!("sqlite://{}", db.display())).await.unwrap()
        else {
            panic!("an sqlite URL opened another backend");
        };
        store.authz_version().await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let path = format!("{}{suffix}", db.display());
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{path}");
        }
    }

    /// An in-memory database leaves no file behind in the current folder.
    #[tokio::test]
    async fn an_in_memory_database_makes_no_file() {
        let here = std::env::current_dir().unwrap();
        let before: Vec<_> = std::fs::read_dir(&here)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        open("sqlite::memory:").await.unwrap();
        let after: Vec<_> = std::fs::read_dir(&here)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(before, after, "a file appeared in {}", here.display());
    }

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
