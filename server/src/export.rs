//! `chromite export`: every collection of a store (or the named ones) as
//! JSON lines, losslessly, and the reader `chromite import FILE.jsonl`
//! uses to bring them back.
//!
//! The stream (one JSON object per line, `kind` tells which):
//!
//! ```text
//! {"kind":"header","format":1}
//! {"kind":"collection","tenant":..,"database":..,"name":..,"metadata":{..}|null,"schema":{..},"records":N}
//! {"kind":"record","id":..,"embedding":"<base64 of little-endian f32>","document":..,"metadata":{..}|null,"uri":..}
//! … N record lines, then the next collection
//! ```
//!
//! Records come in Chroma's `get()` order (first insertion), so an import
//! gives them the same order. Integers stay integers and floats floats
//! (a float is always written with a fraction or exponent); embeddings are
//! bit-exact; the schema carries the configuration and every index flag.

use std::io::{BufRead, Write};

use chromite_engine::{CollectionSpec, Db, GetRequest, Include, Metadata, RecordBatch, Schema};
use serde::{Deserialize, Serialize};

/// The export format's version.
pub const EXPORT_FORMAT: u32 = 1;

/// Records per page read or batch written.
const PAGE: usize = 1000;

/// One line of the stream.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Line {
    /// The first line.
    Header {
        /// [`EXPORT_FORMAT`].
        format: u32,
    },
    /// A collection; its records follow.
    Collection {
        /// Tenant name.
        tenant: String,
        /// Database name.
        database: String,
        /// Collection name.
        name: String,
        /// Collection metadata.
        metadata: Option<Metadata>,
        /// The collection's schema (configuration and indexes).
        schema: Box<Schema>,
        /// How many record lines follow.
        records: u64,
    },
    /// A record of the last collection.
    Record {
        /// Record id.
        id: String,
        /// Base64 of the embedding's little-endian f32 bytes.
        embedding: String,
        /// Document.
        document: Option<String>,
        /// Metadata.
        metadata: Option<Metadata>,
        /// URI.
        uri: Option<String>,
    },
}

/// Why an export or a JSONL import failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] chromite_engine::Error),
    /// Reading or writing the stream failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A line of the stream is not what an export writes.
    #[error("line {line}: {what}")]
    Bad {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: String,
    },
}

fn write_line(out: &mut dyn Write, line: &Line) -> Result<(), TransferError> {
    serde_json::to_writer(&mut *out, line).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Writes every collection of `db` (only those named in `names`, if any
/// are) to `out`; returns `(collections, records)` written.
pub fn export(
    db: &Db,
    names: &[String],
    out: &mut dyn Write,
) -> Result<(usize, u64), TransferError> {
    write_line(
        out,
        &Line::Header {
            format: EXPORT_FORMAT,
        },
    )?;
    let (mut cols, mut recs) = (0, 0u64);
    for tenant in db.list_tenants() {
        for database in db.list_databases(&tenant, None, 0)? {
            for info in db.list_collections(&tenant, &database.name, None, 0)? {
                if !names.is_empty() && !names.contains(&info.name) {
                    continue;
                }
                let col = db.collection(info.id)?;
                let info = col.info();
                let n = col.count()? as u64;
                write_line(
                    out,
                    &Line::Collection {
                        tenant: tenant.clone(),
                        database: database.name.clone(),
                        name: info.name.clone(),
                        metadata: info.metadata.clone(),
                        schema: Box::new(info.schema.clone()),
                        records: n,
                    },
                )?;
                let mut written = 0u64;
                while written < n {
                    let page = col.get(GetRequest {
                        limit: Some(PAGE),
                        offset: written as usize,
                        include: Include {
                            embeddings: true,
                            documents: true,
                            metadatas: true,
                            uris: true,
                            ..Default::default()
                        },
                        ..Default::default()
                    })?;
                    if page.ids.is_empty() {
                        break;
                    }
                    let k = page.ids.len();
                    let mut embeddings = page.embeddings.unwrap_or_default().into_iter();
                    let mut documents = page.documents.unwrap_or_default().into_iter();
                    let mut metadatas = page.metadatas.unwrap_or_default().into_iter();
                    let mut uris = page.uris.unwrap_or_default().into_iter();
                    for id in page.ids {
                        let e = embeddings.next().unwrap_or_default();
                        write_line(
                            out,
                            &Line::Record {
                                id,
                                embedding: crate::wire::embedding::encode_base64(&e),
                                document: documents.next().flatten(),
                                metadata: metadatas.next().flatten(),
                                uri: uris.next().flatten(),
                            },
                        )?;
                    }
                    written += k as u64;
                }
                if written != n {
                    return Err(TransferError::Store(chromite_engine::Error::Internal(
                        format!(
                            "collection {} changed during the export ({written} of {n} records)",
                            info.name
                        ),
                    )));
                }
                cols += 1;
                recs += n;
            }
        }
    }
    out.flush()?;
    Ok((cols, recs))
}

/// Reads an export back into `db` (a collection that exists is refused
/// unless `overwrite`); returns `(collections, records)` imported.
pub fn import_jsonl(
    db: &Db,
    input: &mut dyn BufRead,
    overwrite: bool,
) -> Result<(usize, u64), TransferError> {
    let mut lines = input.lines().enumerate();
    let bad = |line: usize, what: String| TransferError::Bad {
        line: line + 1,
        what,
    };
    let mut next = |expect: &str| -> Result<Option<(usize, Line)>, TransferError> {
        match lines.next() {
            None => Ok(None),
            Some((i, l)) => {
                let l = l?;
                serde_json::from_str(&l)
                    .map(|x| Some((i, x)))
                    .map_err(|e| bad(i, format!("not {expect}: {e}")))
            }
        }
    };
    match next("the header")? {
        Some((
            _,
            Line::Header {
                format: EXPORT_FORMAT,
            },
        )) => {}
        Some((i, _)) => {
            return Err(bad(
                i,
                format!("expected the header of format {EXPORT_FORMAT}"),
            ))
        }
        None => return Err(bad(0, "empty input".into())),
    }
    let (mut cols, mut recs) = (0, 0u64);
    while let Some((i, line)) = next("a collection")? {
        let Line::Collection {
            tenant,
            database,
            name,
            metadata,
            schema,
            records,
        } = line
        else {
            return Err(bad(i, "expected a collection line".into()));
        };
        if db.get_tenant(&tenant).is_err() {
            db.create_tenant(&tenant)?;
        }
        if db.get_database(&tenant, &database).is_err() {
            db.create_database(&tenant, &database)?;
        }
        if db.get_collection_by_name(&tenant, &database, &name).is_ok() {
            if !overwrite {
                return Err(bad(
                    i,
                    format!("the store already has {tenant}/{database}/{name} (use --overwrite)"),
                ));
            }
            db.delete_collection(&tenant, &database, &name)?;
        }
        let spec = CollectionSpec {
            metadata,
            schema: Some(*schema),
            ..Default::default()
        };
        let info = db.create_collection(&tenant, &database, &name, spec, false)?;
        let col = db.collection(info.id)?;
        let mut batch = RecordBatch::default();
        let mut seen = 0u64;
        let flush = |batch: &mut RecordBatch| -> Result<(), TransferError> {
            if !batch.ids.is_empty() {
                col.add(std::mem::take(batch))?;
            }
            Ok(())
        };
        while seen < records {
            let Some((j, line)) = next("a record")? else {
                return Err(bad(
                    i,
                    format!("{name}: the input ends after {seen} of {records} records"),
                ));
            };
            let Line::Record {
                id,
                embedding,
                document,
                metadata,
                uri,
            } = line
            else {
                return Err(bad(j, "expected a record line".into()));
            };
            let v = crate::wire::embedding::decode_base64(&embedding).map_err(|e| bad(j, e))?;
            batch.ids.push(id);
            batch.embeddings.get_or_insert_with(Vec::new).push(v);
            batch.documents.get_or_insert_with(Vec::new).push(document);
            batch
                .metadatas
                .get_or_insert_with(Vec::new)
                .push(metadata.as_ref().map(crate::convert::metadata_update));
            batch.uris.get_or_insert_with(Vec::new).push(uri);
            seen += 1;
            if batch.ids.len() == PAGE {
                flush(&mut batch)?;
            }
        }
        flush(&mut batch)?;
        cols += 1;
        recs += records;
    }
    db.flush()?;
    Ok((cols, recs))
}
