//! The engine's error type. Each kind maps one to one onto a Chroma error
//! kind (see `../shared/chroma-api.md` §2), so the server chooses HTTP
//! statuses in exactly one place by matching on [`Error::kind`].

use std::path::PathBuf;

/// The Chroma error kind an [`Error`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad input: HTTP 400 `InvalidArgumentError`.
    InvalidArgument,
    /// Missing tenant, database or collection: HTTP 404 `NotFoundError`.
    NotFound,
    /// Duplicate tenant, database or collection: HTTP 409.
    AlreadyExists,
    /// Disabled by configuration (e.g. reset): HTTP 403.
    PermissionDenied,
    /// Storage failure, corruption or a bug: HTTP 500 `InternalError`.
    Internal,
}

/// Every error the engine returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input; the message is Chroma's text for the case.
    #[error("{0}")]
    InvalidArgument(String),
    /// Something named does not exist; the message is Chroma's text.
    #[error("{0}")]
    NotFound(String),
    /// Something named already exists; the message is Chroma's text.
    #[error("{0}")]
    AlreadyExists(String),
    /// The operation is disabled by configuration.
    #[error("{0}")]
    PermissionDenied(String),
    /// An internal failure that is not a storage problem (Chroma's 500s).
    #[error("{0}")]
    Internal(String),
    /// A file on disk failed its checks.
    #[error("corrupted file {path}: {detail}")]
    Corrupted {
        /// The file that failed.
        path: PathBuf,
        /// What was wrong with it.
        detail: String,
    },
    /// An I/O error on a named file.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Another process holds the store's lock.
    #[error("the data directory {path} is locked by another process (lock file {lock})")]
    Locked {
        /// The data directory.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// A previous fsync failed; the engine refuses further writes.
    #[error("the store is poisoned after a failed write and accepts no more writes; reopen it")]
    Poisoned,
}

impl Error {
    /// The Chroma error kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::AlreadyExists(_) => ErrorKind::AlreadyExists,
            Error::PermissionDenied(_) => ErrorKind::PermissionDenied,
            Error::Internal(_)
            | Error::Corrupted { .. }
            | Error::Io { .. }
            | Error::Locked { .. }
            | Error::Poisoned => ErrorKind::Internal,
        }
    }

    /// Shorthand for an [`Error::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A corruption error naming `path`.
    pub fn corrupted(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        Error::Corrupted {
            path: path.into(),
            detail: detail.into(),
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
