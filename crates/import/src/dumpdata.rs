//! Django's `dumpdata` JSON, read as a stream: a thread parses the top-level list one row at a
//! time and hands each over a bounded channel, so the file is never held whole in memory and
//! the async side can write while the next rows are parsed.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

/// Rows in flight between the parsing thread and the importer.
const ROWS_IN_FLIGHT: usize = 256;

/// One element of the top-level list, as `{"model": ..., "pk": ..., "fields": {...}}`; the
/// fields are kept as raw JSON, parsed only for the models an importer reads.
#[derive(Debug, Deserialize)]
pub struct Row {
    pub model: Option<String>,
    #[serde(default)]
    pub pk: serde_json::Value,
    pub fields: Option<Box<RawValue>>,
}

/// A row and its 1-based position in the top-level list, as messages name it.
#[derive(Debug)]
pub struct Positioned {
    pub position: u64,
    pub row: Row,
}

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("cannot read {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} is not a Django dumpdata export: {why} (expected a JSON list of \
         {{\"model\", \"pk\", \"fields\"}} objects)", path.display()
    )]
    NotDumpdata { path: PathBuf, why: String },
    #[error("{} is not valid JSON after row {after}: {source}", path.display())]
    Json {
        path: PathBuf,
        after: u64,
        source: serde_json::Error,
    },
}

/// An export opened for one pass.
pub struct Dump {
    rows: mpsc::Receiver<Result<Positioned, DumpError>>,
    read: Arc<AtomicU64>,
    size: u64,
}

impl Dump {
    /// Starts reading `path` on its own thread.
    pub fn open(path: &Path) -> Result<Dump, DumpError> {
        let open_error = |source| DumpError::Open {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(open_error)?;
        let size = file.metadata().map_err(open_error)?.len();
        let read = Arc::new(AtomicU64::new(0));
        let (tx, rx) = mpsc::channel(ROWS_IN_FLIGHT);
        let counting = Counting {
            inner: file,
            read: read.clone(),
        };
        let path = path.to_owned();
        std::thread::spawn(move || parse(&path, BufReader::with_capacity(1 << 16, counting), tx));
        Ok(Dump {
            rows: rx,
            read,
            size,
        })
    }

    /// The next row; `None` at the end of the list.
    pub async fn next(&mut self) -> Option<Result<Positioned, DumpError>> {
        self.rows.recv().await
    }

    /// Bytes parsed so far, and the file's size: the progress of this pass.
    pub fn progress(&self) -> (u64, u64) {
        (self.read.load(Ordering::Relaxed), self.size)
    }
}

struct Counting {
    inner: File,
    read: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

type Sender = mpsc::Sender<Result<Positioned, DumpError>>;

fn parse(path: &Path, reader: impl Read, tx: Sender) {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut rows = Rows {
        path,
        tx: &tx,
        position: 0,
        stopped: false,
    };
    let outcome = serde::Deserializer::deserialize_seq(&mut de, &mut rows)
        .and_then(|()| de.end())
        .map_err(|source| match source.classify() {
            // A top level that is not a list, or a list of things that are not objects.
            serde_json::error::Category::Data if rows.position == 0 => DumpError::NotDumpdata {
                path: path.to_owned(),
                why: source.to_string(),
            },
            _ => DumpError::Json {
                path: path.to_owned(),
                after: rows.position,
                source,
            },
        });
    if let (Err(e), false) = (outcome, rows.stopped) {
        // The importer may have gone: nothing left to tell.
        let _ = tx.blocking_send(Err(e));
    }
}

/// The visitor of the top-level list: sends each row as it is parsed.
struct Rows<'a> {
    path: &'a Path,
    tx: &'a Sender,
    position: u64,
    /// The importer stopped listening: parsing ends quietly.
    stopped: bool,
}

impl<'de> Visitor<'de> for &mut Rows<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(row) = seq.next_element_seed(RowSeed)? {
            self.position += 1;
            if self.position == 1 && row.model.is_none() {
                let _ = self.tx.blocking_send(Err(DumpError::NotDumpdata {
                    path: self.path.to_owned(),
                    why: "its first element has no \"model\"".into(),
                }));
                self.stopped = true;
                return Ok(());
            }
            let sent = self.tx.blocking_send(Ok(Positioned {
                position: self.position,
                row,
            }));
            if sent.is_err() {
                self.stopped = true;
                return Ok(());
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for &mut Rows<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

/// A row, or for an element that is not an object, a row without a model (reported as
/// malformed at its position rather than ending the pass).
struct RowSeed;

impl<'de> DeserializeSeed<'de> for RowSeed {
    type Value = Row;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Row, D::Error> {
        let value = Box::<RawValue>::deserialize(d)?;
        Ok(serde_json::from_str::<Row>(value.get()).unwrap_or(Row {
            model: None,
            pk: serde_json::Value::Null,
            fields: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    async fn rows_of(text: &str) -> Vec<Result<Positioned, DumpError>> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        let mut dump = Dump::open(file.path()).unwrap();
        let mut out = Vec::new();
        while let Some(r) = dump.next().await {
            out.push(r);
        }
        out
    }

    #[tokio::test]
    async fn rows_come_one_by_one_with_their_positions() {
        let rows = rows_of(
            r#"[{"model": "auth.user", "pk": 3, "fields": {"username": "a"}},
                 7,
                 {"model": "x.y", "pk": "k"}]"#,
        )
        .await;
        let rows: Vec<Positioned> = rows.into_iter().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].row.model.as_deref(), Some("auth.user"));
        assert_eq!(rows[0].row.pk, serde_json::json!(3));
        assert_eq!(
            rows[0].row.fields.as_ref().unwrap().get(),
            r#"{"username": "a"}"#
        );
        assert_eq!((rows[1].position, rows[1].row.model.is_none()), (2, true));
        assert_eq!((rows[2].position, rows[2].row.fields.is_none()), (3, true));
    }

    #[tokio::test]
    async fn what_is_not_an_export_is_said_so() {
        for text in ["{}", "\"x\"", "[1, 2]", "[{\"a\": 1}]"] {
            let rows = rows_of(text).await;
            assert!(
                matches!(rows.last(), Some(Err(DumpError::NotDumpdata { .. }))),
                "{text}: {rows:?}"
            );
        }
        assert!(rows_of("[]").await.is_empty());
    }

    #[tokio::test]
    async fn broken_json_names_the_last_good_row() {
        let rows = rows_of(r#"[{"model": "a.b", "pk": 1, "fields": {}}, {"model": "#).await;
        assert!(matches!(
            rows.last(),
            Some(Err(DumpError::Json { after: 1, .. }))
        ));
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = Dump::open(Path::new("/nonexistent/export.json"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("/nonexistent/export.json"), "{e}");
    }
}
