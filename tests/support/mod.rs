//! Test support: a real Rapport server on an ephemeral loopback port, over a fresh SQLite file or
//! a freshly created PostgreSQL database, and a small JSON client for it.
//!
//! Every test body runs once per configured backend through [`on_every_backend`]: SQLite always,
//! PostgreSQL when `RAPPORT_TEST_POSTGRES_URL` is set (e.g. `postgres://root@127.0.0.1:5432/postgres`).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub mod browser;
pub mod http_peer;
pub mod odoo_mock;

pub use reqwest;
pub use serde_json;

pub const PLATFORM_TOKEN: &str = "rpt_platform-admin-token-for-tests-0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends the suite runs on in this environment.
pub fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Sqlite];
    if postgres_admin_url().is_some() {
        backends.push(Backend::Postgres);
    }
    backends
}

fn postgres_admin_url() -> Option<String> {
    std::env::var("RAPPORT_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Runs `test` against a fresh server on every backend, one after the other.
pub async fn on_every_backend<F, Fut>(test: F)
where
    F: Fn(TestServer) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends() {
        eprintln!("--- backend: {backend:?}");
        let server = TestServer::start(backend).await;
        test(server).await;
    }
}

/// A database that exists for one test only: a temp SQLite file or a uniquely named PostgreSQL
/// database dropped when the guard goes (also when the test panics).
pub struct ScratchDatabase {
    pub url: String,
    _dir: TempDir,
    postgres: Option<(String, String)>,
}

impl ScratchDatabase {
    pub async fn create(backend: Backend) -> ScratchDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("rapport.db").display()
                );
                ScratchDatabase {
                    url,
                    _dir: dir,
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url().expect("RAPPORT_TEST_POSTGRES_URL");
                let name = format!("rapport_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("connect to PostgreSQL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create database");
                admin.close().await.ok();
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(base, _)| base)
                    .to_owned();
                ScratchDatabase {
                    url: format!("{base}/{name}"),
                    _dir: dir,
                    postgres: Some((admin_url, name)),
                }
            }
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self._dir.path().to_owned()
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop may run inside a runtime, so the cleanup gets a thread and a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.close().await.ok();
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A running server and a client for it. Dropping it stops the server.
pub struct TestServer {
    pub backend: Backend,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// A direct connection to the same database, for setting up what the API cannot (e.g. an
    /// already-expired token).
    pub db: DatabaseConnection,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    worker: Option<tokio::task::JoinHandle<()>>,
    /// Shared with replicas; the scratch database goes when the last of them does.
    pub database: std::sync::Arc<ScratchDatabase>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        let database = std::sync::Arc::new(ScratchDatabase::create(backend).await);
        TestServer::start_on(backend, database, None).await
    }

    /// A server that also runs the background worker (events, schedules, re-tiering) with
    /// `jobs`; plain servers run none, so tests stay in control of when automation happens.
    pub async fn start_with_jobs(backend: Backend, jobs: rapport::jobs::JobOptions) -> TestServer {
        let database = std::sync::Arc::new(ScratchDatabase::create(backend).await);
        TestServer::start_on(backend, database, Some(jobs)).await
    }

    /// Another process-alike on the same database with a worker of its own.
    pub async fn replica_with_jobs(&self, jobs: rapport::jobs::JobOptions) -> TestServer {
        TestServer::start_on(self.backend, self.database.clone(), Some(jobs)).await
    }

    /// A second server process-alike on the same database, with its own connection pool and
    /// its own loaded permission policy: what another replica behind a load balancer would be.
    pub async fn replica(&self) -> TestServer {
        TestServer::start_on(self.backend, self.database.clone(), None).await
    }

    async fn start_on(
        backend: Backend,
        database: std::sync::Arc<ScratchDatabase>,
        jobs: Option<rapport::jobs::JobOptions>,
    ) -> TestServer {
        let db = rapport::server::open_store(&database.url)
            .await
            .expect("open store");
        rapport::store::tenants::ensure_platform(
            &db,
            "admin@platform.test",
            Some(PLATFORM_TOKEN.to_owned()),
        )
        .await
        .expect("bootstrap platform admin");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (shutdown, stop) = oneshot::channel::<()>();
        let serving = db.clone();
        let registry =
            rapport::registry::Registry::new(rapport::secrets::SecretBox::random(), None);
        let worker = jobs.map(|mut jobs| {
            jobs.public_base_url
                .get_or_insert_with(|| format!("http://{addr}"));
            rapport::jobs::spawn(db.clone(), registry.clone(), jobs)
        });
        let task = tokio::spawn(async move {
            rapport::server::serve_on(listener, serving, registry, async {
                let _ = stop.await;
            })
            .await
            .expect("server runs");
        });
        TestServer {
            backend,
            addr,
            client: reqwest::Client::new(),
            db,
            shutdown: Some(shutdown),
            task: Some(task),
            worker,
            database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a request with an optional bearer token and JSON body; returns status and JSON body
    /// (`Value::Null` when the body is empty or not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request reaches the server");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Creates a tenant through the platform API and returns its admin's handle.
    pub async fn tenant(&self, slug: &str) -> Tenant {
        let body = json!({"slug": slug, "name": format!("Tenant {slug}"),
            "admin": {"email": format!("admin@{slug}.test"), "display_name": "Admin"}});
        let (status, created) = self.post("/api/v1/tenants", PLATFORM_TOKEN, body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        Tenant {
            id: created["tenant"]["id"].as_i64().unwrap(),
            admin_id: created["admin"]["id"].as_i64().unwrap(),
            token: created["admin_token"]["secret"]
                .as_str()
                .unwrap()
                .to_owned(),
        }
    }

    /// Adds an account manager (the default role) to the tenant; returns their id and token.
    pub async fn member(&self, tenant: &Tenant, email: &str) -> (i64, String) {
        self.user_with(tenant, email, json!({})).await
    }

    /// Adds a user with extra fields (`role`, `department_id`…); returns their id and an API
    /// token for them.
    pub async fn user_with(&self, tenant: &Tenant, email: &str, extra: Value) -> (i64, String) {
        let mut body = json!({"email": email, "display_name": email});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let (status, user) = self.post("/api/v1/users", &tenant.token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        let id = user["id"].as_i64().unwrap();
        let (status, issued) = self
            .post(
                "/api/v1/tokens",
                &tenant.token,
                json!({"name": "member", "user_id": id}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{issued}");
        (id, issued["secret"].as_str().unwrap().to_owned())
    }

    /// Creates a department and returns its id.
    pub async fn department(&self, tenant: &Tenant, code: &str) -> i64 {
        let body = json!({"code": code, "name": code});
        let (status, created) = self.post("/api/v1/departments", &tenant.token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        id(&created)
    }

    /// Creates a customer and returns its JSON.
    pub async fn customer(&self, token: &str, code: &str, extra: Value) -> Value {
        let mut body = json!({"code": code, "name": format!("Customer {code}"), "kind": "company"});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let (status, customer) = self.post("/api/v1/customers", token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{customer}");
        customer
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(worker) = self.worker.take() {
            worker.abort();
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: i64,
    pub admin_id: i64,
    pub token: String,
}

/// Asserts the API's error shape and code, returning the error object.
pub fn assert_error(
    status: StatusCode,
    body: &Value,
    expected_status: StatusCode,
    expected_code: &str,
) -> Value {
    assert_eq!(status, expected_status, "unexpected status, body: {body}");
    let error = &body["error"];
    assert_eq!(
        error["code"], expected_code,
        "unexpected error code, body: {body}"
    );
    assert!(
        error["message"].is_string(),
        "error without message: {body}"
    );
    error.clone()
}

/// Asserts a 422 `validation_failed` and returns the error object.
pub fn invalid(status: StatusCode, body: &Value) -> Value {
    assert_error(
        status,
        body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
}

/// Asserts a 404 `not_found` and returns the error object.
pub fn not_found(status: StatusCode, body: &Value) -> Value {
    assert_error(status, body, StatusCode::NOT_FOUND, "not_found")
}

/// The `id` of a created resource.
pub fn id(value: &Value) -> i64 {
    value["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {value}"))
}

/// The bytes of a plugin component from `plugins/`, built for `wasm32-wasip2` on first use
/// (once per test process; cargo serialises concurrent builds on its target directory).
pub fn plugin_component(name: &str) -> Vec<u8> {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = BUILT.get_or_init(build_plugins);
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn build_plugins() -> PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_owned();
    let target_dir = root.join("target").join("plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = std::process::Command::new(cargo)
        .current_dir(root.join("plugins"))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .expect("run cargo to build the plugins");
    assert!(
        status.success(),
        "building plugins/ for wasm32-wasip2 failed; `rustup toolchain install` in the repository adds the target"
    );
    target_dir.join("wasm32-wasip2").join("release")
}

/// Polls `check` every 100 ms until it holds (a background worker is acting), for at most
/// `seconds`.
pub async fn eventually<F, Fut>(what: &str, seconds: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..seconds * 10 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}
