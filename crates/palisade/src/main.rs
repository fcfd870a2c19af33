//! The `palisade` binary: command line, configuration, wiring of stores, engines, workers and the
//! HTTP gateway, and shutdown.

mod client;
mod config;
mod datadir;
mod duties;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use palisade_blobstore::BlobStore;
use palisade_engine_filetype::FileTypeEngine;
use palisade_engine_yara::{YaraEngine, YaraSettings};
use palisade_metastore::Metastore;
use palisade_pipeline::{Engine, Roster};
use palisade_service::{BatchSigner, Service, hash_password};
use tokio::task::JoinSet;

use crate::config::ConfigFile;

#[derive(Parser)]
#[command(
    name = "palisade",
    version,
    about = "File analysis service with a MetaDefender Cluster compatible API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct CommonArgs {
    /// Data directory (embedded database, stored files, signing key).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// TOML configuration file; every setting has a default.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Start with a new, empty database even though the data directory was initialised with
    /// another one (which is set aside if it is an embedded file): every earlier file and
    /// report is lost.
    #[arg(long)]
    new_database: bool,
}

#[derive(Subcommand)]
enum Command {
    /// The parser process of an isolated engine, or one that opens archives (started by the
    /// server itself).
    #[command(hide = true)]
    IsolateChild {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long, required_unless_present = "archives")]
        engine: Option<String>,
        /// Open archives instead of running an engine.
        #[arg(long, conflicts_with = "engine")]
        archives: bool,
        /// The parent's scratch folder (`work-<role>`), which the child does not empty.
        #[arg(long)]
        work: PathBuf,
        #[arg(long)]
        memory_bytes: u64,
        #[arg(long)]
        cpu_seconds: u64,
        #[arg(long)]
        output_bytes: u64,
        #[arg(long)]
        open_files: u64,
        /// Directories the child may read beneath once running.
        #[arg(long)]
        read_dir: Vec<PathBuf>,
        /// Directories the child may write beneath once running.
        #[arg(long)]
        write_dir: Vec<PathBuf>,
    },
    /// Run the gateway and the scan workers in one process.
    Serve {
        #[command(flatten)]
        common: CommonArgs,
        /// Address to listen on.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Run the HTTP gateway only: files are accepted and queued, no scanning happens in this process.
    Gateway {
        #[command(flatten)]
        common: CommonArgs,
        /// Address to listen on.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Run scan workers only (a scanning node); `--listen` serves `/readyz` and `/version`.
    Node {
        #[command(flatten)]
        common: CommonArgs,
        /// Address of the health endpoint.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the Argon2 hash of a password read from standard input (for `[[users]]` in the config).
    HashPassword,
    /// Scan files and folders on a server: upload, wait, print each result. Exit status 0 when
    /// every file is allowed, 1 when one is blocked, 2 on errors.
    Scan(client::ScanArgs),
    /// Look up the latest report of each hash (MD5, SHA-1, SHA-256 or SHA-512).
    Lookup(client::LookupArgs),
    /// Download a file's sanitized (or redacted) copy.
    Download(client::DownloadArgs),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create or update a user; the password is read from PALISADE_USER_PASSWORD or standard input.
    Add {
        name: String,
        /// `admin` or `user`.
        #[arg(long, default_value = "user")]
        role: String,
        #[command(flatten)]
        common: CommonArgs,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PALISADE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Everything Palisade creates (the data directory, databases, stored files, keys, scratch
    // copies) is its own alone: directories 0700, files 0600.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    if let Command::IsolateChild {
        common,
        engine,
        archives,
        work,
        memory_bytes,
        cpu_seconds,
        output_bytes,
        open_files,
        read_dir,
        write_dir,
    } = cli.command
    {
        let sandbox = palisade_isolate::Sandbox {
            read: read_dir,
            write: write_dir,
        };
        // No runtime: the child only runs its engine, one file at a time.
        let limits = palisade_isolate::ChildLimits {
            memory_bytes,
            cpu_seconds,
            output_bytes,
            open_files,
            ..palisade_isolate::ChildLimits::default()
        };
        if archives {
            let opener = child_opener()?;
            let role = palisade_isolate::ChildRole::Archives(&*opener);
            palisade_isolate::serve_child(role, &limits, &sandbox)?;
            return Ok(());
        }
        let engine = engine.context("isolate-child needs --engine or --archives")?;
        return isolate_child(&common, &engine, &work, &limits, &sandbox);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve { common, listen } => runtime.block_on(serve(common, listen, Role::Serve)),
        Command::Gateway { common, listen } => {
            runtime.block_on(serve(common, listen, Role::Gateway))
        }
        Command::Node { common, listen } => runtime.block_on(serve(common, listen, Role::Node)),
        Command::User {
            command: UserCommand::Add { name, role, common },
        } => runtime.block_on(add_user(common, &name, &role)),
        Command::IsolateChild { .. } => unreachable!("handled before the runtime starts"),
        Command::Scan(args) => exit_client(runtime.block_on(client::scan(args))),
        Command::Lookup(args) => exit_client(runtime.block_on(client::lookup(args))),
        Command::Download(args) => exit_client(runtime.block_on(client::download(args))),
        Command::HashPassword => {
            let password = read_password_stdin()?;
            println!("{}", hash_password(&password).map_err(anyhow::Error::msg)?);
            Ok(())
        }
    }
}

/// Ends a client command with its exit status (2, after the message, when it failed).
fn exit_client(finished: anyhow::Result<u8>) -> ! {
    let status = finished.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        client::ERRORS
    });
    std::process::exit(i32::from(status))
}

fn read_password_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let password = text.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("empty password on standard input");
    }
    Ok(password)
}

/// Where things live, resolved from flags, config and environment.
struct Layout {
    config: ConfigFile,
    data_dir: PathBuf,
    metastore_url: String,
    blobstore_url: String,
}

/// Warns when other users may read or enter the data directory (it holds every stored file).
fn warn_if_open(data_dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(data_dir) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            data_dir = %data_dir.display(),
            mode = format!("{mode:o}"),
            "the data directory is open to other users; make it private with: chmod 700 {}",
            data_dir.display()
        );
    }
}

/// This process's private scratch folder in the data directory, for engines' copies of files
/// and for archive extraction. It is emptied at start: anything in it was left by a
/// predecessor that died mid-scan.
fn work_dir(data_dir: &Path, role: Role) -> anyhow::Result<PathBuf> {
    let dir = data_dir.join(format!("work-{}", role.name()));
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if let Err(error) = removed {
                tracing::warn!(path = %path.display(), %error, "could not remove scratch left behind");
            }
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))?;
    Ok(dir)
}

/// Opens the metastore after checking that it is the data directory's own, undamaged database
/// (see `datadir`).
async fn open_metastore(
    layout: &Layout,
    max_connections: u32,
    new_database: bool,
) -> anyhow::Result<Metastore> {
    let url = &layout.metastore_url;
    datadir::check_before_open(&layout.data_dir, url, new_database)?;
    let options = palisade_metastore::OpenOptions {
        max_connections,
        durability: layout.config.storage.durability,
    };
    let open = || async {
        Metastore::open_with(url, &options)
            .await
            .with_context(|| format!("opening metastore {}", redact(url)))
    };
    let metastore = match (open().await, datadir::sqlite_path(url)) {
        (Ok(metastore), _) => metastore,
        // An embedded database too damaged to open at all.
        (Err(error), Some(path)) if path.exists() => {
            if !new_database {
                return Err(error.context(format!(
                    "the database {} cannot be opened and may be damaged. {}",
                    path.display(),
                    datadir::RECOVERY
                )));
            }
            tracing::warn!(%error, "--new-database: the database that cannot be opened is set aside");
            datadir::set_aside(&path);
            open().await?
        }
        (Err(error), _) => return Err(error),
    };
    if datadir::check_opened(&layout.data_dir, url, &metastore, new_database).await? {
        return Ok(metastore);
    }
    // The damaged embedded database was set aside: start on a new one.
    let metastore = open().await?;
    datadir::check_opened(&layout.data_dir, url, &metastore, new_database).await?;
    Ok(metastore)
}

fn layout(common: &CommonArgs) -> anyhow::Result<Layout> {
    let config = ConfigFile::load(common.config.as_deref())?;
    let data_dir = common
        .data_dir
        .clone()
        .or_else(|| config.server.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("./palisade-data"));
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let data_dir = data_dir.canonicalize()?;
    warn_if_open(&data_dir);
    let metastore_url = std::env::var("PALISADE_METASTORE_URL")
        .ok()
        .or_else(|| config.storage.metastore_url.clone())
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("palisade.db").display()));
    let blobstore_url = std::env::var("PALISADE_BLOBSTORE_URL")
        .ok()
        .or_else(|| config.storage.blobstore_url.clone())
        .unwrap_or_else(|| format!("file://{}", data_dir.join("blobs").display()));
    Ok(Layout {
        config,
        data_dir,
        metastore_url,
        blobstore_url,
    })
}

async fn add_user(common: CommonArgs, name: &str, role: &str) -> anyhow::Result<()> {
    if role != "admin" && role != "user" {
        bail!("--role must be admin or user");
    }
    let layout = layout(&common)?;
    let password = match std::env::var("PALISADE_USER_PASSWORD") {
        Ok(password) if !password.is_empty() => password,
        _ => read_password_stdin()?,
    };
    let metastore = open_metastore(&layout, 2, common.new_database).await?;
    let hash = hash_password(&password).map_err(anyhow::Error::msg)?;
    metastore
        .put_user(&palisade_metastore::UserRecord {
            username: name.to_string(),
            password_hash: hash,
            role: role.to_string(),
        })
        .await?;
    println!("user {name} ({role}) saved");
    Ok(())
}

/// Creates `admin` on first start: with PALISADE_ADMIN_PASSWORD, or a generated password printed once.
async fn bootstrap_admin(service: &Service) -> anyhow::Result<()> {
    if service.metastore().user_count().await? > 0 {
        return Ok(());
    }
    let (password, generated) = match std::env::var("PALISADE_ADMIN_PASSWORD") {
        Ok(password) if !password.is_empty() => (password, false),
        _ => (palisade_model::random_hex(12), true),
    };
    let hash = tokio::task::spawn_blocking(move || hash_password(&password).map(|h| (h, password)))
        .await?
        .map_err(anyhow::Error::msg)?;
    service.put_user("admin", &hash.0, "admin").await?;
    if generated {
        eprintln!("==> created user 'admin' with password: {}", hash.1);
        eprintln!("==> it is shown only once; set PALISADE_ADMIN_PASSWORD to choose it instead");
    } else {
        tracing::info!("created user 'admin' from PALISADE_ADMIN_PASSWORD");
    }
    Ok(())
}

/// The child side of an isolated engine: builds that one engine from the same configuration
/// and serves it on stdin/stdout until the parent closes them.
fn isolate_child(
    common: &CommonArgs,
    id: &str,
    work: &Path,
    limits: &palisade_isolate::ChildLimits,
    sandbox: &palisade_isolate::Sandbox,
) -> anyhow::Result<()> {
    let config = ConfigFile::load(common.config.as_deref())?;
    // The parent always passes its (resolved) data directory.
    let data_dir = common
        .data_dir
        .clone()
        .context("isolate-child needs --data-dir")?;
    let engine = all_engines(&config, &data_dir, work, Some(id))?
        .into_iter()
        .find(|e| e.descriptor().id == id)
        .with_context(|| format!("no engine {id:?} to isolate"))?;
    let engine = child_engine(engine)?;
    palisade_isolate::serve_child(
        palisade_isolate::ChildRole::Engine(&*engine),
        limits,
        sandbox,
    )?;
    Ok(())
}

/// The engine a parser process runs: the configured one.
#[cfg(not(feature = "fault-engines"))]
fn child_engine(engine: Arc<dyn Engine>) -> anyhow::Result<Arc<dyn Engine>> {
    Ok(engine)
}

/// The engine a parser process runs: in the `fault-engines` test build, Deep CDR and Proactive
/// DLP fail on files holding `FAULT-NOW` as `PALISADE_TEST_CDR_FAULT` and
/// `PALISADE_TEST_DLP_FAULT` say (abort, stack-overflow, ...).
#[cfg(feature = "fault-engines")]
fn child_engine(engine: Arc<dyn Engine>) -> anyhow::Result<Arc<dyn Engine>> {
    let variable = match engine.descriptor().id.as_str() {
        palisade_engine_cdr::ENGINE_ID => "PALISADE_TEST_CDR_FAULT",
        palisade_engine_dlp::ENGINE_ID => "PALISADE_TEST_DLP_FAULT",
        _ => return Ok(engine),
    };
    let Ok(name) = std::env::var(variable) else {
        return Ok(engine);
    };
    let fault = palisade_test_support::Fault::parse(&name)
        .with_context(|| format!("{variable}: no fault {name:?}"))?;
    Ok(Arc::new(palisade_test_support::FaultyParser {
        inner: engine,
        fault,
    }))
}

/// How a parser process opens archives: the real extractor.
#[cfg(not(feature = "fault-engines"))]
fn child_opener() -> anyhow::Result<Box<dyn palisade_extract::Opener>> {
    Ok(Box::new(palisade_extract::InProcess))
}

/// How a parser process opens archives: in the `fault-engines` test build, archives holding
/// `FAULT-NOW` fail as `PALISADE_TEST_ARCHIVE_FAULT` says (abort, stack-overflow, ...).
#[cfg(feature = "fault-engines")]
fn child_opener() -> anyhow::Result<Box<dyn palisade_extract::Opener>> {
    let Ok(name) = std::env::var("PALISADE_TEST_ARCHIVE_FAULT") else {
        return Ok(Box::new(palisade_extract::InProcess));
    };
    let fault = palisade_test_support::Fault::parse(&name)
        .with_context(|| format!("PALISADE_TEST_ARCHIVE_FAULT: no fault {name:?}"))?;
    Ok(Box::new(palisade_test_support::FaultOpener { fault }))
}

/// The roster: every configured engine; in a process that scans (`sandbox` given), those named
/// in `[isolation] engines` run their scans in parser processes (this binary re-executed as
/// `isolate-child`). A gateway scans nothing and starts none.
fn build_engines(
    config: &ConfigFile,
    common: &CommonArgs,
    data_dir: &Path,
    work: &Path,
    sandbox: Option<&palisade_isolate::Sandbox>,
) -> anyhow::Result<Roster> {
    let mut engines = all_engines(config, data_dir, work, None)?;
    let isolation = &config.isolation;
    for id in &isolation.engines {
        if !engines.iter().any(|e| &e.descriptor().id == id) {
            bail!("isolation.engines: no engine {id:?}");
        }
    }
    // Deep CDR and Proactive DLP parse hostile documents: they always run in parser processes.
    let isolated = |id: &str| {
        isolation.engines.iter().any(|e| e == id)
            || id == palisade_engine_cdr::ENGINE_ID
            || id == palisade_engine_dlp::ENGINE_ID
    };
    let Some(sandbox) = sandbox.filter(|_| engines.iter().any(|e| isolated(&e.descriptor().id)))
    else {
        return Ok(Roster::new(engines));
    };
    let limits = isolation.limits()?;
    let program = std::env::current_exe().context("finding this program to isolate engines")?;
    for engine in &mut engines {
        let id = engine.descriptor().id.clone();
        if !isolated(&id) {
            continue;
        }
        let args = child_args(common, data_dir, work, &["--engine", &id], &limits, sandbox);
        let pool = palisade_isolate::ParserPool::new(
            palisade_isolate::ChildCommand {
                program: program.clone(),
                args,
                scratch: work.to_path_buf(),
            },
            limits,
            isolation.pool,
        );
        tracing::info!(engine = %id, "engine runs in parser processes");
        *engine = Arc::new(palisade_isolate::IsolatedEngine::new(engine.clone(), pool));
    }
    Ok(Roster::new(engines))
}

/// The arguments of a parser process: `role` (the engine, or archives), the parent's folders,
/// configuration, limits and sandbox.
fn child_args(
    common: &CommonArgs,
    data_dir: &Path,
    work: &Path,
    role: &[&str],
    limits: &palisade_isolate::ChildLimits,
    sandbox: &palisade_isolate::Sandbox,
) -> Vec<String> {
    let mut args = vec!["isolate-child".to_string()];
    args.extend(role.iter().map(|a| a.to_string()));
    args.extend([
        "--work".into(),
        work.display().to_string(),
        "--data-dir".into(),
        data_dir.display().to_string(),
    ]);
    if let Some(config_path) = &common.config {
        args.push("--config".into());
        args.push(config_path.display().to_string());
    }
    args.extend(limits.to_args());
    args.extend(sandbox.to_args());
    args
}

/// Where this process's workers decode archives: in parser processes when
/// `[isolation] archives` is on (the default), else in the worker. Each child may write as
/// much as the largest submission budget of any rule (the budget itself stops extraction).
fn archive_opener(
    config: &ConfigFile,
    common: &CommonArgs,
    data_dir: &Path,
    work: &Path,
    sandbox: &palisade_isolate::Sandbox,
    rules: &[palisade_service::RuleSettings],
) -> anyhow::Result<Arc<dyn palisade_extract::Opener>> {
    if !config.isolation.archives {
        return Ok(Arc::new(palisade_extract::InProcess));
    }
    let largest = rules
        .iter()
        .map(|r| r.archives.max_total_bytes)
        .max()
        .unwrap_or(palisade_service::ArchiveSettings::default().max_total_bytes);
    let limits = palisade_isolate::ChildLimits {
        output_bytes: largest.max(1),
        ..config.isolation.limits()?
    };
    let program = std::env::current_exe().context("finding this program to isolate archives")?;
    let pool = palisade_isolate::ParserPool::new(
        palisade_isolate::ChildCommand {
            program,
            args: child_args(common, data_dir, work, &["--archives"], &limits, sandbox),
            scratch: work.to_path_buf(),
        },
        limits,
        config.isolation.pool,
    );
    let extractor = palisade_isolate::IsolatedExtractor::new(pool);
    extractor
        .warm_up()
        .context("starting the parser processes that open archives")?;
    tracing::info!("archives are opened in parser processes");
    Ok(Arc::new(extractor))
}

/// Every configured engine, or (for a parser process) only those it may need: `only` skips
/// the rule compilation of a YARA engine that is not the one it runs.
fn all_engines(
    config: &ConfigFile,
    data_dir: &Path,
    work: &Path,
    only: Option<&str>,
) -> anyhow::Result<Vec<Arc<dyn Engine>>> {
    let mut engines: Vec<Arc<dyn Engine>> = vec![Arc::new(FileTypeEngine::default())];
    engines.extend(config::hash_list_engines(config));
    for engine in config::antivirus_engines(config, work)? {
        if only.is_none() {
            tracing::info!(engine = %engine.descriptor().id, "configured engine");
        }
        engines.push(engine);
    }
    if config.yara.reload_seconds.is_some() && only.is_none() {
        tracing::warn!(
            "yara.reload_seconds is no longer used: YARA rules are re-read at every engine \
             health check (health.check_seconds)"
        );
    }
    if config.yara.enabled && only.is_none_or(|id| id == "yara") {
        let rules_dir = config
            .yara
            .rules_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("yara-rules"));
        std::fs::create_dir_all(&rules_dir)
            .with_context(|| format!("creating {}", rules_dir.display()))?;
        let engine = Arc::new(YaraEngine::new(YaraSettings {
            rules_dir: Some(rules_dir),
            builtin_rules: config.yara.builtin_rules,
        }));
        for problem in engine.status().problems {
            tracing::warn!(%problem, "YARA rule problem");
        }
        engines.push(engine);
    }
    if config.cdr.enabled && only.is_none_or(|id| id == palisade_engine_cdr::ENGINE_ID) {
        engines.push(Arc::new(palisade_engine_cdr::CdrEngine::default()));
    }
    if config.dlp.enabled && only.is_none_or(|id| id == palisade_engine_dlp::ENGINE_ID) {
        engines.push(Arc::new(palisade_engine_dlp::DlpEngine::default()));
    }
    Ok(engines)
}

/// What a process does: the HTTP API, scanning, or both.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Serve,
    Gateway,
    Node,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Serve => "serve",
            Role::Gateway => "gateway",
            Role::Node => "node",
        }
    }
}

/// What keeps the stores from taking new files now: a write that fails, or a disk with less than
/// `min_free` bytes free.
/// Raises the soft open-file limit to the hard one and returns it (`None` when unlimited).
fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(error) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(%error, "could not raise the open-file limit");
        }
    }
    let limit = getrlimit(Resource::Nofile).current;
    tracing::debug!(open_files = ?limit, "open-file limit");
    limit
}

async fn serve(common: CommonArgs, listen: Option<String>, role: Role) -> anyhow::Result<()> {
    let workers = role != Role::Gateway;
    let layout = layout(&common)?;
    let config = &layout.config;
    let mut service_settings =
        config::service_settings(config, std::env::var("PALISADE_API_KEY").ok())?;
    // A gateway scans nothing: its /stat/engines shows the scanning nodes' engines.
    service_settings.engines_from_registry = role == Role::Gateway;
    let mut worker_settings = config::worker_settings(config)?;
    let work = work_dir(&layout.data_dir, role)?;
    worker_settings.scratch_dir = work.clone();
    let http_limits = config::http_limits(&config.http, raise_open_file_limit())?;
    let tls = config::tls(&config.tls)?;
    let metastore =
        open_metastore(&layout, config.storage.max_connections, common.new_database).await?;
    let blobs = BlobStore::open_with(
        &layout.blobstore_url,
        &layout.data_dir.join("scratch"),
        config.storage.durability,
    )
    .with_context(|| format!("opening blob store {}", redact(&layout.blobstore_url)))?;
    // Parser processes read samples from the blob store or its scratch copies and write only
    // their outputs in this process's scratch folder.
    let mut readable = vec![layout.data_dir.join("scratch"), work.clone()];
    readable.extend(blobs.backend().local_root().map(Path::to_path_buf));
    let sandbox = palisade_isolate::Sandbox {
        read: readable,
        write: vec![work.clone()],
    };
    let roster = build_engines(
        config,
        &common,
        &layout.data_dir,
        &work,
        workers.then_some(&sandbox),
    )?;
    if workers {
        worker_settings.opener = archive_opener(
            config,
            &common,
            &layout.data_dir,
            &work,
            &sandbox,
            &service_settings.rules,
        )?;
    }
    if role != Role::Gateway {
        warn_of_unscanned_sizes(&service_settings, &roster, worker_settings.scan_memory);
    }
    let signer = match (&config.signing.key_file, &config.signing.cert_file) {
        (Some(key), Some(cert)) => BatchSigner::new(key.clone(), cert.clone(), false),
        (None, None) => BatchSigner::in_data_dir(&layout.data_dir),
        _ => bail!("signing.key_file and signing.cert_file go together"),
    };
    signer
        .check_supplied()
        .map_err(|problem| anyhow::anyhow!("batch signing key: {problem}"))?;
    let wake = Arc::new(tokio::sync::Notify::new());
    if workers {
        // Work queued by any process of the cluster wakes this one's idle workers.
        metastore
            .watch_for_work(wake.clone())
            .await
            .context("listening for new work")?;
    }
    let service = Service::new(
        metastore,
        blobs,
        service_settings,
        roster,
        signer.clone(),
        wake.clone(),
    );
    bootstrap_admin(&service).await?;
    for user in config::users(config) {
        service
            .put_user(&user.name, &user.password_hash, &user.role)
            .await?;
    }

    let (stop_sender, stop) = tokio::sync::watch::channel(false);
    let mut tasks = JoinSet::new();
    if role != Role::Node {
        tasks.spawn(duties::load_signing_key(signer));
    }
    {
        let interval = config::seconds(config.health.check_seconds, "health.check_seconds")?;
        let roster = service.roster().clone();
        duties::first_health_check(roster.clone()).await;
        tasks.spawn(duties::check_engines(roster, interval, stop.clone()));
    }
    {
        let interval = config::seconds(config.readiness.probe_seconds, "readiness.probe_seconds")?;
        let min_free = config.readiness.min_free_mib.saturating_mul(1 << 20);
        let mut disks = vec![layout.data_dir.clone()];
        disks.extend(
            service
                .blobs()
                .backend()
                .local_root()
                .map(Path::to_path_buf),
        );
        tasks.spawn(duties::probe_storage(
            service.clone(),
            disks,
            min_free,
            interval,
            stop.clone(),
        ));
    }
    let node_id = node_id(config, &layout.data_dir, role)?;
    {
        let interval = config::seconds(
            config.cluster.heartbeat_seconds,
            "cluster.heartbeat_seconds",
        )?;
        let forget_ms = i64::try_from(
            config::seconds(
                config.cluster.forget_offline_after_hours * 3600.0,
                "cluster.forget_offline_after_hours",
            )?
            .as_millis(),
        )
        .unwrap_or(i64::MAX / 2);
        let record = palisade_metastore::NodeRecord {
            node_id: node_id.clone(),
            role: role.name().into(),
            hostname: hostname(),
            version: env!("CARGO_PKG_VERSION").into(),
            started_ts: palisade_model::now_millis(),
            last_seen: 0,
            workers: if workers {
                u32::try_from(worker_settings.workers).unwrap_or(u32::MAX)
            } else {
                0
            },
            running: 0,
            engines: String::new(),
        };
        tasks.spawn(duties::heartbeat_node(
            service.clone(),
            record,
            forget_ms,
            interval,
            stop.clone(),
        ));
    }
    if workers {
        let interval = config::seconds(config.outputs.sweep_seconds, "outputs.sweep_seconds")?;
        tasks.spawn(duties::sweep_outputs(
            service.clone(),
            interval,
            stop.clone(),
        ));
    }
    if workers {
        // Leases name this start of the node too, so a restarted node never mistakes its dead
        // predecessor's leases for its own.
        tasks.spawn(palisade_worker::run_workers(
            service.clone(),
            format!("{node_id}/{}", palisade_model::random_hex(3)),
            worker_settings,
            wake,
            stop.clone(),
        ));
    }

    let listen = listen
        .or_else(|| config.server.listen.clone())
        .unwrap_or_else(|| "127.0.0.1:8899".into());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, data_dir = %layout.data_dir.display(), "palisade ready");
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{address}");

    if let Some(address) = config.metrics.own_listener() {
        let metrics_listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("binding {address} (metrics.listen)"))?;
        let bound = metrics_listener.local_addr()?;
        println!("metrics on {scheme}://{bound}/metrics");
        let mut metrics_stop = stop.clone();
        let served = palisade_api::serve(
            metrics_listener,
            palisade_api::Surface::Metrics,
            service.clone(),
            http_limits.clone(),
            tls.clone(),
            async move {
                let _ = metrics_stop.changed().await;
            },
        );
        tasks.spawn(async move {
            if let Err(error) = served.await {
                tracing::error!(%error, "the metrics listener stopped");
            }
        });
    }
    let mut http_stop = stop.clone();
    let shutdown = async move {
        let _ = http_stop.changed().await;
    };
    let metastore = service.metastore().clone();
    let surface = if role == Role::Node {
        palisade_api::Surface::Health
    } else {
        palisade_api::Surface::Api
    };
    let http = palisade_api::serve(listener, surface, service, http_limits, tls, shutdown);
    tokio::pin!(http);
    tokio::select! {
        result = &mut http => result?,
        _ = shutdown_signal() => {
            tracing::info!("shutting down: finishing in-flight requests and jobs");
            let _ = stop_sender.send(true);
            http.await?;
        }
    }
    let _ = stop_sender.send(true);
    // Workers finish the jobs in hand (graceful drain), then the node leaves the registry.
    while tasks.join_next().await.is_some() {}
    if let Err(error) = metastore.remove_node(&node_id).await {
        tracing::warn!(%error, "leaving the node registry failed");
    }
    metastore.close().await;
    tracing::info!(node = %node_id, "stopped");
    Ok(())
}

/// A storage URL fit for logs: the password of `user:password@` and a `secret_access_key` hidden.
fn redact(url: &str) -> String {
    let mut text = url.to_string();
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((credentials, host)) = rest.split_once('@')
        && let Some((user, _)) = credentials.split_once(':')
    {
        text = format!("{scheme}://{user}:***@{host}");
    }
    if let Some(start) = text.find("secret_access_key=") {
        let value = start + "secret_access_key=".len();
        let end = text[value..].find('&').map_or(text.len(), |e| value + e);
        text.replace_range(value..end, "***");
    }
    text
}

/// The configured node id, or the one kept in the data directory (created on first start).
fn node_id(config: &config::ConfigFile, data_dir: &Path, role: Role) -> anyhow::Result<String> {
    if let Some(id) = &config.cluster.node_id {
        if id.is_empty() || id.contains('/') {
            bail!("cluster.node_id must be non-empty and without '/'");
        }
        return Ok(id.clone());
    }
    let path = data_dir.join(format!("node-id-{}", role.name()));
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        _ => {
            let id = palisade_model::random_hex(6);
            palisade_service::write_atomically(&path, format!("{id}\n").as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(id)
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(stream) => stream,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Warns of rules that accept files larger than the scan memory budget while an engine that
/// holds whole files runs for them: such files are Not Scanned by that engine.
fn warn_of_unscanned_sizes(
    settings: &palisade_service::ServiceSettings,
    roster: &palisade_pipeline::Roster,
    budget: u64,
) {
    let probe = palisade_model::FileHashes::default();
    for rule in &settings.rules {
        if rule.max_file_size <= budget {
            continue;
        }
        let sample = palisade_pipeline::Sample {
            path: std::path::Path::new(""),
            size: rule.max_file_size,
            display_name: "",
            hashes: &probe,
        };
        for engine in roster.for_rule(rule.engines.as_deref()) {
            if engine.memory_for(&sample) > budget {
                tracing::warn!(
                    rule = %rule.name,
                    engine = %engine.descriptor().id,
                    max_file_size = rule.max_file_size,
                    scan_memory_mib = budget >> 20,
                    "the rule accepts files larger than the scan memory budget: this engine will report them Not Scanned (raise queue.scan_memory_mib to scan them)"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn storage_urls_lose_their_secrets_in_messages() {
        assert_eq!(
            super::redact("postgres://palisade:s3cret@db:5432/palisade?sslmode=require"),
            "postgres://palisade:***@db:5432/palisade?sslmode=require"
        );
        assert_eq!(
            super::redact("s3://b/p?endpoint=http://h:9000&secret_access_key=xyz&region=r"),
            "s3://b/p?endpoint=http://h:9000&secret_access_key=***&region=r"
        );
        assert_eq!(
            super::redact("sqlite:///var/lib/palisade.db"),
            "sqlite:///var/lib/palisade.db"
        );
    }
}
