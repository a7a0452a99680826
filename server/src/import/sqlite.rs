//! Reading a Chroma persistent directory's `chroma.sqlite3`
//! (`../shared/chroma-format.md` §2–3), strictly read-only.
//!
//! The file is opened with SQLite's `mode=ro&immutable=1`, so nothing under
//! the directory changes (no lock, no journal). If Chroma crashed and left
//! a hot `chroma.sqlite3-journal`, the pair is copied to a temporary
//! directory first and opened there, where SQLite rolls the journal back:
//! the source still stays untouched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chromite_engine::{Metadata, MetadataValue};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::ImportError;

/// An open `chroma.sqlite3`.
pub struct ChromaSqlite {
    conn: Connection,
    /// The file the errors name.
    pub path: PathBuf,
    /// Where the copy lives, when a hot journal forced one.
    _copy: Option<tempfile::TempDir>,
}

/// One row of `collections`, with what the import needs beside it.
#[derive(Debug, Clone)]
pub struct CollectionRow {
    pub id: String,
    pub name: String,
    pub dimension: Option<i64>,
    pub tenant: String,
    pub database: String,
    pub config_json: Option<String>,
    pub schema_str: Option<String>,
    /// User collection metadata (legacy `hnsw:*` keys included, as Chroma
    /// returns them).
    pub metadata: Metadata,
    /// The METADATA and VECTOR segments' ids.
    pub metadata_segment: Option<String>,
    pub vector_segment: Option<String>,
    /// The VECTOR segment's `segment_metadata` (0.4–0.6 kept `hnsw:*` there).
    pub segment_metadata: Metadata,
}

/// A live record as the METADATA segment holds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetaRecord {
    pub id: String,
    pub document: Option<String>,
    pub uri: Option<String>,
    pub metadata: Metadata,
}

/// One `embeddings_queue` row.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub seq: u64,
    pub op: i64,
    pub id: String,
    pub vector: Option<Vec<f32>>,
    pub metadata: Option<String>,
}

/// Tenants, and databases as `(tenant, name)`.
pub type Scopes = (Vec<String>, Vec<(String, String)>);

const DOCUMENT_KEY: &str = "chroma:document";
const URI_KEY: &str = "chroma:uri";

impl ChromaSqlite {
    /// Opens `<dir>/chroma.sqlite3` read-only.
    pub fn open(dir: &Path) -> Result<ChromaSqlite, ImportError> {
        let path = dir.join("chroma.sqlite3");
        if !path.is_file() {
            return Err(ImportError::NotChroma(dir.to_path_buf()));
        }
        let journal = dir.join("chroma.sqlite3-journal");
        let err = |e: rusqlite::Error| ImportError::sqlite(&path, e);
        if journal.exists() {
            let tmp = tempfile::tempdir().map_err(|e| ImportError::io(&path, e))?;
            let copy = tmp.path().join("chroma.sqlite3");
            std::fs::copy(&path, &copy).map_err(|e| ImportError::io(&path, e))?;
            std::fs::copy(&journal, tmp.path().join("chroma.sqlite3-journal"))
                .map_err(|e| ImportError::io(&journal, e))?;
            let conn = Connection::open(&copy).map_err(err)?;
            // Reading rolls the hot journal back in the copy.
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                .map_err(err)?;
            return Ok(ChromaSqlite {
                conn,
                path,
                _copy: Some(tmp),
            });
        }
        let uri = format!("file:{}?mode=ro&immutable=1", path.display());
        let conn = Connection::open_with_flags(
            &uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(err)?;
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(err)?;
        Ok(ChromaSqlite {
            conn,
            path,
            _copy: None,
        })
    }

    fn err(&self, e: rusqlite::Error) -> ImportError {
        ImportError::sqlite(&self.path, e)
    }

    fn has_table(&self, name: &str) -> Result<bool, ImportError> {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    fn has_column(&self, table: &str, column: &str) -> Result<bool, ImportError> {
        let mut st = self
            .conn
            .prepare(&format!("PRAGMA table_info({table})"))
            .map_err(|e| self.err(e))?;
        let names = st
            .query_map([], |r| r.get::<_, String>(1))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(names.iter().any(|n| n == column))
    }

    /// `column` if `table` has it, else `NULL` (for a SELECT list).
    fn column_or_null(&self, table: &str, column: &str) -> Result<String, ImportError> {
        Ok(match self.has_column(table, column)? {
            true => column.to_string(),
            false => "NULL".to_string(),
        })
    }

    /// Every tenant, and every database as `(tenant, name)`.
    pub fn scopes(&self) -> Result<Scopes, ImportError> {
        let tenants = self
            .conn
            .prepare("SELECT id FROM tenants ORDER BY id")
            .and_then(|mut s| {
                s.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| self.err(e))?;
        let dbs = self
            .conn
            .prepare("SELECT tenant_id, name FROM databases ORDER BY tenant_id, name")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| self.err(e))?;
        Ok((tenants, dbs))
    }

    /// Every collection, with its scope, metadata and segments.
    pub fn collections(&self) -> Result<Vec<CollectionRow>, ImportError> {
        let schema_col = if self.has_column("collections", "schema_str")? {
            "c.schema_str"
        } else {
            "NULL"
        };
        let config_col = if self.has_column("collections", "config_json_str")? {
            "c.config_json_str"
        } else {
            "NULL"
        };
        let sql = format!(
            "SELECT c.id, c.name, c.dimension, d.tenant_id, d.name, {config_col}, {schema_col} \
             FROM collections c JOIN databases d ON c.database_id = d.id \
             ORDER BY d.tenant_id, d.name, c.name"
        );
        let mut rows = self
            .conn
            .prepare(&sql)
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok(CollectionRow {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        dimension: r.get(2)?,
                        tenant: r.get(3)?,
                        database: r.get(4)?,
                        config_json: r.get(5)?,
                        schema_str: r.get(6)?,
                        metadata: Metadata::new(),
                        metadata_segment: None,
                        vector_segment: None,
                        segment_metadata: Metadata::new(),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| self.err(e))?;
        // `bool_value` came in 0.5.1 for these two tables.
        let cbool = self.column_or_null("collection_metadata", "bool_value")?;
        let sbool = self.column_or_null("segment_metadata", "bool_value")?;
        for c in &mut rows {
            c.metadata = self.typed_rows(
                &format!(
                    "SELECT key, str_value, int_value, float_value, {cbool} \
                     FROM collection_metadata WHERE collection_id = ?1 ORDER BY key"
                ),
                &c.id,
            )?;
            let segs: Vec<(String, String)> = self
                .conn
                .prepare("SELECT id, scope FROM segments WHERE collection = ?1")
                .and_then(|mut s| {
                    s.query_map([&c.id], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(|e| self.err(e))?;
            for (id, scope) in segs {
                match scope.as_str() {
                    "METADATA" => c.metadata_segment = Some(id),
                    "VECTOR" => c.vector_segment = Some(id),
                    _ => {}
                }
            }
            if let Some(v) = &c.vector_segment {
                c.segment_metadata = self.typed_rows(
                    &format!(
                        "SELECT key, str_value, int_value, float_value, {sbool} \
                         FROM segment_metadata WHERE segment_id = ?1 ORDER BY key"
                    ),
                    v,
                )?;
            }
        }
        Ok(rows)
    }

    /// `key → value` from a query returning `key, str, int, float, bool`
    /// (the first non-NULL column wins, in that order, as Chroma decodes).
    fn typed_rows(&self, sql: &str, arg: &str) -> Result<Metadata, ImportError> {
        let mut out = Metadata::new();
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let mut rows = st.query([arg]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let key: String = r.get(0).map_err(|e| self.err(e))?;
            if let Some(v) = typed_value(r, 1).map_err(|e| self.err(e))? {
                out.insert(key, v);
            }
        }
        Ok(out)
    }

    /// The segment's watermark in `max_seq_id` (an INTEGER, or the 8-byte
    /// big-endian BLOB 0.4–0.6 wrote).
    pub fn watermark(&self, segment: &str) -> Result<Option<u64>, ImportError> {
        if !self.has_table("max_seq_id")? {
            return Ok(None);
        }
        let v: Option<rusqlite::types::Value> = self
            .conn
            .query_row(
                "SELECT seq_id FROM max_seq_id WHERE segment_id = ?1",
                [segment],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(v.and_then(|v| seq_of(&v)))
    }

    /// The live records of METADATA segment `segment`, in Chroma's `get()`
    /// order (`embeddings.id`).
    pub fn records(&self, segment: &str) -> Result<Vec<MetaRecord>, ImportError> {
        let mut st = self
            .conn
            .prepare("SELECT id, embedding_id FROM embeddings WHERE segment_id = ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows: Vec<(i64, String)> = st
            .query_map([segment], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|m| m.collect())
            .map_err(|e| self.err(e))?;
        let at: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.0, i)).collect();
        let mut out: Vec<MetaRecord> = rows
            .into_iter()
            .map(|(_, id)| MetaRecord {
                id,
                ..Default::default()
            })
            .collect();
        // `bool_value` came in 0.4.4 (bools were ints before).
        let mbool = self.column_or_null("embedding_metadata", "bool_value")?;
        self.each_value(
            &format!(
                "SELECT m.id, m.key, m.string_value, m.int_value, m.float_value, {mbool} \
                 FROM embedding_metadata m JOIN embeddings e ON m.id = e.id \
                 WHERE e.segment_id = ?1"
            ),
            segment,
            &at,
            |i, key, v| {
                let rec = &mut out[i];
                match (key.as_str(), v) {
                    (DOCUMENT_KEY, MetadataValue::Str(s)) => rec.document = Some(s),
                    (URI_KEY, MetadataValue::Str(s)) => rec.uri = Some(s),
                    (_, v) => {
                        rec.metadata.insert(key, v);
                    }
                }
            },
        )?;
        if self.has_table("embedding_metadata_array")? {
            self.each_value(
                "SELECT m.id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value \
                 FROM embedding_metadata_array m JOIN embeddings e ON m.id = e.id \
                 WHERE e.segment_id = ?1 ORDER BY m.id, m.key, m.rowid",
                segment,
                &at,
                |i, key, v| push_element(&mut out[i].metadata, key, v),
            )?;
        }
        Ok(out)
    }

    /// Runs `sql` (rows of `embeddings.id, key, str, int, float, bool`
    /// for METADATA segment `segment`) and hands each typed value to `f`
    /// with its record's position in `at`.
    fn each_value(
        &self,
        sql: &str,
        segment: &str,
        at: &HashMap<i64, usize>,
        mut f: impl FnMut(usize, String, MetadataValue),
    ) -> Result<(), ImportError> {
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let mut rows = st.query([segment]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let Some(&i) = at.get(&r.get::<_, i64>(0).map_err(|e| self.err(e))?) else {
                continue;
            };
            let key: String = r.get(1).map_err(|e| self.err(e))?;
            if let Some(v) = typed_value(r, 2).map_err(|e| self.err(e))? {
                f(i, key, v);
            }
        }
        Ok(())
    }

    /// The queue rows of collection `id` after `after`, in sequence order.
    pub fn queue(&self, id: &str, after: u64) -> Result<Vec<QueueRow>, ImportError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT seq_id, operation, id, vector, encoding, metadata FROM embeddings_queue \
                 WHERE topic LIKE '%/' || ?1 AND seq_id > ?2 ORDER BY seq_id",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = st
            .query(rusqlite::params![id, after as i64])
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let seq: i64 = r.get(0).map_err(|e| self.err(e))?;
            let blob: Option<Vec<u8>> = r.get(3).map_err(|e| self.err(e))?;
            let encoding: Option<String> = r.get(4).map_err(|e| self.err(e))?;
            let vector = match (blob, encoding.as_deref()) {
                (None, _) => None,
                (Some(b), None | Some("FLOAT32")) if b.len() % 4 == 0 => {
                    Some(crate::wire::embedding::f32s_from_le(&b))
                }
                (Some(b), enc) => {
                    return Err(ImportError::Data {
                        file: self.path.clone(),
                        what: format!(
                            "queue row {seq} holds a {}-byte vector with encoding {enc:?}",
                            b.len()
                        ),
                    })
                }
            };
            out.push(QueueRow {
                seq: seq as u64,
                op: r.get(1).map_err(|e| self.err(e))?,
                id: r.get(2).map_err(|e| self.err(e))?,
                vector,
                metadata: r.get(5).map_err(|e| self.err(e))?,
            });
        }
        Ok(out)
    }
}

/// A sequence number stored as an INTEGER or a big-endian BLOB.
fn seq_of(v: &rusqlite::types::Value) -> Option<u64> {
    match v {
        rusqlite::types::Value::Integer(i) => Some(*i as u64),
        rusqlite::types::Value::Blob(b) if !b.is_empty() && b.len() <= 24 => {
            // Big-endian; a 24-byte pre-0.4 id keeps its low 8 bytes.
            let tail = &b[b.len().saturating_sub(8)..];
            Some(tail.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64))
        }
        _ => None,
    }
}

/// The value of a `str, int, float, bool` column group starting at `at`.
fn typed_value(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Option<MetadataValue>> {
    if let Some(s) = r.get::<_, Option<String>>(at)? {
        return Ok(Some(MetadataValue::Str(s)));
    }
    if let Some(i) = r.get::<_, Option<i64>>(at + 1)? {
        return Ok(Some(MetadataValue::Int(i)));
    }
    if let Some(f) = r.get::<_, Option<f64>>(at + 2)? {
        return Ok(Some(MetadataValue::Float(f)));
    }
    if let Some(b) = r.get::<_, Option<i64>>(at + 3)? {
        return Ok(Some(MetadataValue::Bool(b != 0)));
    }
    Ok(None)
}

/// Appends an array element to `key`'s array (typed by its first element).
fn push_element(m: &mut Metadata, key: String, v: MetadataValue) {
    let arr = match (m.remove(&key), v) {
        (Some(MetadataValue::StrArray(mut a)), MetadataValue::Str(s)) => {
            a.push(s);
            MetadataValue::StrArray(a)
        }
        (Some(MetadataValue::IntArray(mut a)), MetadataValue::Int(i)) => {
            a.push(i);
            MetadataValue::IntArray(a)
        }
        (Some(MetadataValue::FloatArray(mut a)), MetadataValue::Float(f)) => {
            a.push(f);
            MetadataValue::FloatArray(a)
        }
        (Some(MetadataValue::BoolArray(mut a)), MetadataValue::Bool(b)) => {
            a.push(b);
            MetadataValue::BoolArray(a)
        }
        (_, MetadataValue::Str(s)) => MetadataValue::StrArray(vec![s]),
        (_, MetadataValue::Int(i)) => MetadataValue::IntArray(vec![i]),
        (_, MetadataValue::Float(f)) => MetadataValue::FloatArray(vec![f]),
        (_, MetadataValue::Bool(b)) => MetadataValue::BoolArray(vec![b]),
        (_, other) => other,
    };
    m.insert(key, arr);
}
