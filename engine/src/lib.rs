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

pub mod collection;
pub mod db;
pub mod error;
pub mod filter;
pub mod index;
pub mod types;

pub use collection::Collection;
pub use db::{Db, DEFAULT_DATABASE, DEFAULT_TENANT};
pub use error::{Error, ErrorKind, Result};
pub use filter::{Where, WhereDocument};
pub use types::*;
