//! `chromite`: the server binary (`chromite run`, like `chroma run`).

use std::net::SocketAddr;
use std::process::ExitCode;

use std::io::{BufRead, Write};
use std::sync::Arc;

use chromite_embed::{EmbedOptions, JinaTask, Task, TextEmbedder};
use chromite_server::config::{
    Cli, Command, EmbedArgs, ExportArgs, ImportArgs, RestoreArgs, RunArgs, Settings, SnapshotArgs,
};
use chromite_server::{app, AppState};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any other thread exists: embedding batches run side by side on
    // rayon, candle's kernels single-threaded (chromite_embed::threads).
    chromite_embed::threads::use_batch_parallelism(None);
    // Encoder layers reuse their freed buffers instead of faulting them in again
    // (chromite_embed::malloc).
    chromite_embed::malloc::retain_freed_memory();
    match cli.command {
        Command::Run(args) => run(args),
        Command::Embed(args) => embed(args),
        Command::Import(args) => import(args),
        Command::Export(args) => export(args),
        Command::Snapshot(args) => snapshot(args),
        Command::Restore(args) => restore(args),
    }
}

/// `chromite snapshot --url URL --token T [--name N | --list | --delete N]`:
/// the server's admin routes (`api/admin.rs`); prints their JSON answer.
fn snapshot(args: SnapshotArgs) -> ExitCode {
    let base = format!("{}/admin/v1/snapshots", args.url.trim_end_matches('/'));
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(3600))
        .build();
    let auth = |r: ureq::Request| match &args.token {
        Some(t) => r.set("authorization", &format!("Bearer {t}")),
        None => r,
    };
    let resp = if args.list {
        auth(agent.get(&base)).call()
    } else if let Some(name) = &args.delete {
        auth(agent.delete(&format!("{base}/{name}"))).call()
    } else {
        auth(agent.post(&base)).send_json(serde_json::json!({"name": args.name}))
    };
    match resp {
        Ok(r) => {
            println!("{}", r.into_string().unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(ureq::Error::Status(code, r)) => {
            eprintln!(
                "chromite snapshot: HTTP {code}: {}",
                r.into_string().unwrap_or_default()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("chromite snapshot: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `chromite restore SNAPSHOT --path DEST`.
fn restore(args: RestoreArgs) -> ExitCode {
    match chromite_engine::snapshot::restore(&args.snapshot, &args.path) {
        Ok(s) => {
            println!(
                "restored {} collections into {} ({} files linked, {} bytes copied)",
                s.collections,
                args.path.display(),
                s.linked_files,
                s.copied_bytes
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("chromite restore: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `chromite export --path DIR [--collection NAME]... > FILE.jsonl`.
fn export(args: ExportArgs) -> ExitCode {
    init_tracing("warn");
    let db = match chromite_engine::Db::open(&args.path) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("chromite: cannot open {}: {e}", args.path.display());
            return ExitCode::FAILURE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    match chromite_server::export::export(&db, &args.collections, &mut out) {
        Ok((c, r)) => {
            eprintln!("exported {c} collections, {r} records");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("chromite export: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `chromite import SRC --path DEST`: a progress bar on a terminal (log
/// lines otherwise), a summary at the end; exit status 2 when some
/// collections could not be imported.
fn import(args: ImportArgs) -> ExitCode {
    use chromite_server::import::{import_chroma_dir, ImportOptions};
    use indicatif::{ProgressBar, ProgressStyle};
    init_tracing(&args.log_level);
    let db = match chromite_engine::Db::open(&args.path) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("chromite: cannot open {}: {e}", args.path.display());
            return ExitCode::FAILURE;
        }
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} records ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut last_log = std::time::Instant::now();
    let mut progress = |label: &str, done: usize, total: usize| {
        if bar.is_hidden() {
            if last_log.elapsed().as_secs() >= 5 {
                tracing::info!(collection = label, done, total, "importing");
                last_log = std::time::Instant::now();
            }
        } else {
            bar.set_message(label.to_string());
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    };
    if args.src.is_file() {
        let file = match std::fs::File::open(&args.src) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("chromite import: {}: {e}", args.src.display());
                return ExitCode::FAILURE;
            }
        };
        let mut input = std::io::BufReader::with_capacity(1 << 20, file);
        return match chromite_server::export::import_jsonl(&db, &mut input, args.overwrite) {
            Ok((c, r)) => {
                println!(
                    "imported {c} collections, {r} records from {}",
                    args.src.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("chromite import: {}: {e}", args.src.display());
                ExitCode::FAILURE
            }
        };
    }
    let opts = ImportOptions {
        overwrite: args.overwrite,
    };
    let src = args.src.to_string_lossy().to_string();
    let result = if src.starts_with("http://") || src.starts_with("https://") {
        chromite_server::import::import_remote(
            &src,
            args.token.as_deref(),
            &args.tenants,
            &db,
            &opts,
            &mut progress,
        )
    } else {
        import_chroma_dir(&args.src, &db, &opts, &mut progress)
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            bar.finish_and_clear();
            eprintln!("chromite import: {e}");
            return ExitCode::FAILURE;
        }
    };
    bar.finish_and_clear();
    if let Err(e) = db.flush() {
        eprintln!("chromite import: flushing the store: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "imported {} collections, {} records in {:.1} s from {} into {}",
        report.imported.len(),
        report.records(),
        report.seconds,
        args.src.display(),
        args.path.display()
    );
    if !report.resumed.is_empty() {
        println!(
            "resumed: {} collections were already imported by an interrupted run",
            report.resumed.len()
        );
    }
    for (name, why) in &report.failed {
        println!("NOT imported: {name}: {why}");
    }
    if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("partial import: {} collections failed", report.failed.len());
        ExitCode::from(2)
    }
}

/// `chromite embed`: stdin lines -> one JSON array per line on stdout.
fn embed(args: EmbedArgs) -> ExitCode {
    init_tracing("warn");
    let model = match TextEmbedder::load(&args.model) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("chromite: cannot load model {}: {e}", args.model);
            return ExitCode::FAILURE;
        }
    };
    // `--task none`: the base weights without an adapter or prefix, as
    // Jina's own `encode(task=None)`.
    let jina: Option<JinaTask> = match args.task.trim() {
        "none" => None,
        other => match other.parse() {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("chromite: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let role = match jina {
        Some(JinaTask::RetrievalQuery) => Some(Task::Query),
        Some(JinaTask::RetrievalPassage) => Some(Task::Passage),
        _ => None,
    };
    let opts = EmbedOptions {
        task: jina.filter(|_| !model.tasks().is_empty()),
        dim: args.dim,
    };
    let run_batch = |lines: &[String]| -> Result<Vec<Vec<f32>>, chromite_embed::Error> {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        match (role, args.dim) {
            (Some(task), None) => model.embed(&refs, task),
            _ => model.embed_with(&refs, &opts),
        }
    };
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut lines: Vec<String> = Vec::new();
    let mut all = stdin.lock().lines();
    loop {
        let next = all.next();
        let done = next.is_none();
        match next {
            Some(Ok(line)) => lines.push(line),
            Some(Err(e)) => {
                eprintln!("chromite: reading stdin: {e}");
                return ExitCode::FAILURE;
            }
            None => {}
        }
        if lines.len() >= args.batch.max(1) || (done && !lines.is_empty()) {
            match run_batch(&lines) {
                Ok(vecs) => {
                    for v in vecs {
                        let json = serde_json::to_string(&v).unwrap_or_default();
                        if writeln!(out, "{json}").is_err() {
                            return ExitCode::FAILURE;
                        }
                    }
                }
                Err(e) => {
                    eprintln!("chromite: embedding failed: {e}");
                    return ExitCode::FAILURE;
                }
            }
            lines.clear();
        }
        if done {
            break;
        }
    }
    if out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn init_tracing(level: &str) {
    let filter = EnvFilter::try_new(chromite_server::config::log_filter(level))
        .unwrap_or_else(|_| EnvFilter::new(chromite_server::config::log_filter("info")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

fn run(args: RunArgs) -> ExitCode {
    init_tracing(&args.log_level);
    for var in ["ANONYMIZED_TELEMETRY", "CHROMA_TELEMETRY"] {
        if std::env::var_os(var).is_some() {
            tracing::debug!("{var} is set and ignored: chromite sends no telemetry");
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chromite: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            tracing::error!("{msg}");
            eprintln!("chromite: {msg}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: RunArgs) -> Result<(), String> {
    let path = args.path.clone();
    let options = chromite_engine::Options {
        memtable_graph: args.memtable_graph,
        ..chromite_engine::Options::default()
    };
    let db = tokio::task::spawn_blocking(move || chromite_engine::Db::open_with(&path, options))
        .await
        .map_err(|e| format!("opening the store failed: {e}"))?
        .map_err(|e| format!("cannot open the store at {}: {e}", args.path.display()))?;
    {
        // An interrupted `chromite import` leaves no half-written collection.
        let (dir, store) = (args.path.clone(), db.clone());
        tokio::task::spawn_blocking(move || {
            chromite_server::import::journal::recover(&dir, &store)
        })
        .await
        .map_err(|e| format!("checking for an interrupted import failed: {e}"))?
        .map_err(|e| format!("cannot recover an interrupted import: {e}"))?;
    }
    if !args.no_chroma_import {
        let (dir, store) = (args.path.clone(), db.clone());
        let done = tokio::task::spawn_blocking(move || {
            chromite_server::import::import_in_place(&dir, &store)
        })
        .await
        .map_err(|e| format!("importing the Chroma data failed: {e}"))?
        .map_err(|e| {
            format!(
                "cannot import the Chroma data at {}: {e}",
                args.path.display()
            )
        })?;
        if let Some(r) = done {
            tracing::info!(
                collections = r.imported.len(),
                records = r.records(),
                seconds = r.seconds,
                "imported the Chroma persistent directory at {} (its files are untouched; --no-chroma-import skips this)",
                args.path.display()
            );
            for (name, why) in &r.failed {
                tracing::error!(collection = %name, "not imported from Chroma: {why}");
            }
        }
    }
    let mut state = AppState::new(db.clone(), Settings::from(&args));
    if let Some(model) = args.model() {
        let name = model.clone();
        let loaded = tokio::task::spawn_blocking(move || TextEmbedder::load(&name))
            .await
            .map_err(|e| format!("loading the model failed: {e}"))?
            .map_err(|e| format!("cannot load the embedding model {model}: {e}"))?;
        tracing::info!(
            "embedding model {} loaded (dimension {})",
            loaded.model_id(),
            loaded.dim()
        );
        state = state.with_embedder(Arc::new(loaded));
    }
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .or_else(|_| {
            std::net::ToSocketAddrs::to_socket_addrs(&(args.host.as_str(), args.port))
                .map_err(|e| e.to_string())
                .and_then(|mut a| a.next().ok_or_else(|| "no address".to_string()))
        })
        .map_err(|e| format!("bad --host/--port {}:{}: {e}", args.host, args.port))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(
        "chromite {} serving the Chroma API on http://{addr} (data: {}, reset {}, auth {})",
        env!("CARGO_PKG_VERSION"),
        args.path.display(),
        if args.allow_reset {
            "allowed"
        } else {
            "disabled"
        },
        if args.auth_token.as_deref().is_some_and(|t| !t.is_empty()) {
            "token"
        } else {
            "off"
        },
    );
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    tracing::info!("shutting down: flushing the store");
    tokio::task::spawn_blocking(move || db.flush())
        .await
        .map_err(|e| format!("flush failed: {e}"))?
        .map_err(|e| format!("flush failed: {e}"))?;
    tracing::info!("store flushed; bye");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
