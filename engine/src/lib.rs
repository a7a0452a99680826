//! # chromite-engine
//!
//! The embedded storage and search engine behind Chromite, a Chroma-compatible
//! vector database. Tenants contain databases, databases contain collections,
//! collections contain records (id, embedding, document, metadata, uri).
//!
//! It is: a durable store (CRC-framed write-ahead log, memory-mapped immutable
//! segments, atomic manifest), Chroma's `where`/`where_document` filters and
//! distances, and k-NN search.
//!
//! It is not: an HTTP server (that is `chromite-server`) nor an embedder
//! (`chromite-embed`). It needs no async runtime.
//!
//! ```
//! use chromite_engine::{Db, CollectionSpec, RecordBatch, QueryRequest, Include, DEFAULT_TENANT, DEFAULT_DATABASE};
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path()).unwrap();
//! let info = db
//!     .create_collection(DEFAULT_TENANT, DEFAULT_DATABASE, "docs", CollectionSpec::default(), false)
//!     .unwrap();
//! let col = db.collection(info.id).unwrap();
//! col.add(RecordBatch {
//!     ids: vec!["a".into(), "b".into()],
//!     embeddings: Some(vec![vec![1.0, 0.0], vec![0.0, 2.0]]),
//!     ..Default::default()
//! })
//! .unwrap();
//! let res = col
//!     .query(QueryRequest {
//!         query_embeddings: vec![vec![1.0, 1.0]],
//!         n_results: 1,
//!         include: Include { distances: true, ..Default::default() },
//!         ..Default::default()
//!     })
//!     .unwrap();
//! assert_eq!(res.ids, vec![vec!["a".to_string()]]);
//! assert_eq!(res.distances, Some(vec![vec![1.0]]));
//! ```

mod catalog;
mod codec;
pub mod collection;
pub mod db;
pub mod error;
pub mod filter;
pub mod fs;
mod graphs;
pub mod index;
mod journal;
mod memtable;
mod metadata;
mod options;
mod os;
mod record;
mod registry;
mod row_set;
pub mod schema;
pub mod search;
mod segment;
pub mod snapshot;
mod sparse;
pub mod types;
mod worker;

pub use catalog::names;
pub use collection::compaction;
pub use collection::stall::WriteStall;
pub use collection::validate;
pub use collection::Collection;
pub use db::{Db, Options, DEFAULT_DATABASE, DEFAULT_TENANT};
pub use error::{Error, ErrorKind, Result};
pub use filter::{Where, WhereDocument};
pub use graphs::GraphStatus;
pub use schema::Schema;
pub use types::*;
pub use worker::IdleFlush;

#[doc(hidden)]
pub mod fuzzing;
