//! `AppState`: what every handler shares — the engine, the settings, the
//! optional embedder and the metrics registry.

use std::sync::Arc;

use chromite_engine::Db;

use crate::config::Settings;
use crate::embedder::Embedder;
use crate::metrics::Metrics;

/// Shared handler state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The open store.
    pub db: Db,
    /// Server settings.
    pub settings: Arc<Settings>,
    /// The model that embeds documents and `query_texts`, if any.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Request and record counters.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// State over `db` with `settings` and no embedder.
    pub fn new(db: Db, settings: Settings) -> Self {
        AppState {
            db,
            settings: Arc::new(settings),
            embedder: None,
            metrics: Arc::new(Metrics::default()),
        }
    }

    /// Adds an embedder.
    pub fn with_embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }
}
