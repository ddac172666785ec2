//! Customer 360° benchmark.
//!
//! Seeds an embedded SQLite store (by default 100k customers with 10 interactions and 10 orders
//! each, i.e. 1M of both), then, in the same process and against the same pool:
//!
//! 1. loads `GET /api/v1/customers/{id}/360` through the real server on loopback with C
//!    concurrent keep-alive clients, and
//! 2. runs the bare SQL of the same view (the 7 statements, no HTTP, JSON, auth or ORM mapping)
//!    with the same concurrency, as the baseline.
//!
//! Each is loaded twice:
//!
//! - *closed loop*: C workers each send the next request when the last one answered, which
//!   finds the most requests per second it serves (its capacity);
//! - *open loop*: requests start on a fixed schedule of R per second whatever the answers (as
//!   independent users send them, and as wrk2 does), each latency counted from its scheduled
//!   start, so a stall is charged to every request it delays. This phase answers "p99 at
//!   2,000 rps": the goal is p99 ≤ 10 ms at an offered 2,000 requests per second or more, with
//!   every request answered.
//!
//! Every phase reports p50/p90/p99/max latency and throughput; the summary compares HTTP with
//! the bare SQL and with the goal.
//!
//! Environment: `RAPPORT_BENCH_CUSTOMERS` (100000), `RAPPORT_BENCH_CONCURRENCY` (32),
//! `RAPPORT_BENCH_RATE` (2000 requests/s for the open loop), `RAPPORT_BENCH_SECONDS` (15,
//! measured after a 3 s warm-up).

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rapport::demo::{self, GenerateSpec};
use rapport::domain::Id;
use rapport::domain::customer360::{
    DEFAULT_RECENT_INTERACTIONS, MAX_CONTACTS, RECENT_ORDER_DAYS, SATISFACTION_HISTORY,
};
use rapport::domain::identity::{TenantFields, UserInput};
use rapport::domain::order::OrderStatus;
use rapport::server::{self, ServerError};
use rapport::store::tenants;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value,
};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const INTERACTIONS_PER_CUSTOMER: usize = 10;
const ORDERS_PER_CUSTOMER: usize = 10;
const WARM_UP: Duration = Duration::from_secs(3);
const GOAL_P99: Duration = Duration::from_millis(10);
const GOAL_RPS: f64 = 2_000.0;
/// Open-loop requests in flight at most; past it the schedule waits, so a server that stops
/// answering cannot make the benchmark spawn without bound.
const MAX_IN_FLIGHT: usize = 1_024;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::from_env();
    config.print();
    let dir = tempfile::tempdir().expect("create a temporary data directory");
    let db = open_store(dir.path()).await;
    let bench = seed(&db, config.customers).await;
    print_query_plans(&db, &bench).await;
    let server = RunningServer::start(db.clone()).await;

    let over_http = OverHttp::new(&server.base_url, &bench);
    over_http.check(bench.first_id).await;
    let bare_sql = BareSql {
        db: db.clone(),
        tenant_id: bench.tenant_id,
    };
    let phases = Phases {
        http_closed: run_load(&config, &bench, over_http.clone()).await,
        bare_closed: run_load(&config, &bench, bare_sql.clone()).await,
        http_open: run_at_rate(&config, &bench, over_http).await,
        bare_open: run_at_rate(&config, &bench, bare_sql).await,
    };
    phases.print(&config);
    server.stop().await;
    // Any failed request invalidates the latencies, so the run fails (after the full report).
    if phases.failures() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

struct Config {
    customers: usize,
    concurrency: usize,
    rate: u32,
    measured: Duration,
}

impl Config {
    fn from_env() -> Self {
        Config {
            customers: env_or("RAPPORT_BENCH_CUSTOMERS", 100_000),
            concurrency: env_or("RAPPORT_BENCH_CONCURRENCY", 32),
            rate: env_or("RAPPORT_BENCH_RATE", 2_000),
            measured: Duration::from_secs(env_or("RAPPORT_BENCH_SECONDS", 15)),
        }
    }

    fn print(&self) {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        println!(
            "customer_360 bench: {} customers, closed loop of {} clients, open loop at {} rps, {:?} warm-up + {:?} measured, {cores} cores",
            self.customers, self.concurrency, self.rate, WARM_UP, self.measured
        );
    }
}

/// Reads a variable, falling back to `default` when unset; a value that does not parse is a
/// mistake worth stopping for rather than silently benchmarking something else.
fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a valid number")),
        Err(_) => default,
    }
}

// ---------------------------------------------------------------------------------------------
// Store and data

/// What the load phases need to know about the seeded data.
#[derive(Clone)]
struct Bench {
    tenant_id: Id,
    secret: String,
    first_id: Id,
    last_id: Id,
}

impl Bench {
    fn random_customer(&self, rng: &mut StdRng) -> Id {
        rng.random_range(self.first_id..=self.last_id)
    }
}

async fn open_store(dir: &Path) -> DatabaseConnection {
    let url = server::resolve_database_url(None, dir).expect("resolve the database URL");
    let db = server::open_store(&url)
        .await
        .expect("open and migrate the store");
    let version = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT sqlite_version()",
        ))
        .await
        .expect("read the SQLite version")
        .and_then(|row| row.try_get_by_index::<String>(0).ok())
        .unwrap_or_default();
    println!("store: SQLite {version} at {}", dir.display());
    db
}

/// Creates the tenant and its admin, generates the customers, and refreshes planner statistics.
async fn seed(db: &DatabaseConnection, customers: usize) -> Bench {
    let fields = TenantFields {
        slug: "bench".into(),
        name: "Benchmark tenant".into(),
        default_region: "CN".into(),
        default_currency: "CNY".into(),
        custom_field_schema: None,
    };
    let admin = UserInput {
        email: "admin@bench.rapport.local".into(),
        display_name: "Bench admin".into(),
        role: None,
        department_id: None,
    };
    let (tenant, admin, token) = tenants::create_with_admin(db, fields, admin)
        .await
        .expect("create the tenant");

    let spec = GenerateSpec {
        customers,
        interactions_per_customer: INTERACTIONS_PER_CUSTOMER,
        orders_per_customer: ORDERS_PER_CUSTOMER,
        exact_counts: true,
        code_prefix: "B".into(),
        seed: 7,
    };
    let started = Instant::now();
    let summary = demo::generate(
        db,
        tenant.id,
        &[admin.id],
        &spec,
        progress_printer(customers, started),
    )
    .await
    .expect("generate the data");
    let seeding = started.elapsed();
    println!(
        "seeded in {:.1} s: {} customers, {} contacts, {} interactions, {} orders, {} satisfaction records",
        seeding.as_secs_f64(),
        summary.customers,
        summary.contacts,
        summary.interactions,
        summary.orders,
        summary.satisfaction_records
    );

    let started = Instant::now();
    db.execute_unprepared("ANALYZE").await.expect("ANALYZE");
    println!("ANALYZE in {:.1} s", started.elapsed().as_secs_f64());

    let (first_id, last_id) = customer_id_range(db, tenant.id, customers).await;
    Bench {
        tenant_id: tenant.id,
        secret: token.secret,
        first_id,
        last_id,
    }
}

/// Prints a line at each tenth of the work, so a long seeding shows it is alive.
fn progress_printer(total: usize, started: Instant) -> impl FnMut(usize) {
    let mut printed_tenths = 0;
    move |done| {
        let tenths = done * 10 / total.max(1);
        if tenths > printed_tenths {
            printed_tenths = tenths;
            println!(
                "  seeding: {done}/{total} customers after {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// The seeded ids, checked to be contiguous so that drawing uniformly between the first and the
/// last draws uniformly among the seeded customers.
async fn customer_id_range(db: &DatabaseConnection, tenant_id: Id, expected: usize) -> (Id, Id) {
    let row = db
        .query_one_raw(sql(
            "SELECT MIN(id), MAX(id), COUNT(*) FROM customers WHERE tenant_id = ?",
            [tenant_id.into()],
        ))
        .await
        .expect("read the customer ids")
        .expect("an aggregate always returns a row");
    let first: Id = row.try_get_by_index(0).expect("min id");
    let last: Id = row.try_get_by_index(1).expect("max id");
    let count: i64 = row.try_get_by_index(2).expect("count");
    assert_eq!(count, expected as i64, "customer count");
    assert_eq!(
        last - first + 1,
        count,
        "customer ids {first}..={last} are not contiguous"
    );
    println!("customer ids: {first}..={last}");
    (first, last)
}

// ---------------------------------------------------------------------------------------------
// Server

struct RunningServer {
    base_url: String,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl RunningServer {
    async fn start(db: DatabaseConnection) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let (shutdown, stopped) = oneshot::channel::<()>();
        let registry =
            rapport::registry::Registry::new(rapport::secrets::SecretBox::random(), None);
        let task = tokio::spawn(server::serve_on(listener, db, registry, async {
            let _ = stopped.await;
        }));
        println!("server: http://{addr}");
        RunningServer {
            base_url: format!("http://{addr}"),
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.task
            .await
            .expect("server task panicked")
            .expect("server failed");
    }
}

// ---------------------------------------------------------------------------------------------
// The two ways of reading a 360° view

/// One outcome of reading one view: `Err` carries a description of what went wrong.
type Outcome = Result<(), String>;

/// A way of reading the 360° view of one customer; each load worker holds its own clone.
trait ViewReader: Clone + Send + 'static {
    fn read(&self, customer_id: Id) -> impl Future<Output = Outcome> + Send;
}

/// Through the server, as an API client does.
#[derive(Clone)]
struct OverHttp {
    // One client shared by every worker: it pools keep-alive connections, as a front end would.
    client: reqwest::Client,
    base_url: String,
    secret: String,
}

impl OverHttp {
    fn new(base_url: &str, bench: &Bench) -> Self {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("build the HTTP client");
        OverHttp {
            client,
            base_url: base_url.to_owned(),
            secret: bench.secret.clone(),
        }
    }

    fn url(&self, customer_id: Id) -> String {
        format!("{}/api/v1/customers/{customer_id}/360", self.base_url)
    }

    /// Before loading, proves the view carries the seeded data, so that both phases read the
    /// same rows.
    async fn check(&self, customer_id: Id) {
        let url = self.url(customer_id);
        let response = self
            .client
            .get(&url)
            .bearer_auth(&self.secret)
            .send()
            .await
            .expect("GET the 360 view");
        assert_eq!(response.status(), reqwest::StatusCode::OK, "GET {url}");
        let view: serde_json::Value = response.json().await.expect("a JSON 360 view");
        let interactions = view["recent_interactions"].as_array().map_or(0, Vec::len);
        assert_eq!(
            interactions, INTERACTIONS_PER_CUSTOMER,
            "recent interactions in {url}"
        );
        assert_eq!(
            view["order_stats"]["order_count"], ORDERS_PER_CUSTOMER,
            "order count in {url}"
        );
    }
}

impl ViewReader for OverHttp {
    /// The whole round trip, including reading the body, since a client pays for all of it.
    async fn read(&self, customer_id: Id) -> Outcome {
        let url = self.url(customer_id);
        let response = self
            .client
            .get(&url)
            .bearer_auth(&self.secret)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if status == reqwest::StatusCode::OK {
            Ok(())
        } else {
            Err(format!(
                "GET {url}: {status} {}",
                String::from_utf8_lossy(&body)
            ))
        }
    }
}

/// The bare SQL on the server's own pool: no HTTP, auth, JSON or ORM mapping.
#[derive(Clone)]
struct BareSql {
    db: DatabaseConnection,
    tenant_id: Id,
}

impl ViewReader for BareSql {
    async fn read(&self, customer_id: Id) -> Outcome {
        query_360(&self.db, self.tenant_id, customer_id)
            .await
            .map_err(|e| e.to_string())
    }
}

const CUSTOMER_SQL: &str = "SELECT * FROM customers WHERE id = ? AND tenant_id = ? LIMIT 1";
const TAGS_SQL: &str = "SELECT * FROM customer_tags WHERE customer_id = ? ORDER BY tag";
const CONTACTS_SQL: &str =
    "SELECT * FROM contacts WHERE customer_id = ? ORDER BY is_primary DESC, id LIMIT ?";
const INTERACTIONS_SQL: &str =
    "SELECT * FROM interactions WHERE customer_id = ? ORDER BY occurred_at DESC, id DESC LIMIT ?";
const ORDER_TOTALS_SQL: &str = "SELECT currency, COUNT(id) AS order_count, \
       CAST(SUM(amount_e4) AS BIGINT) AS total_e4, \
       CAST(SUM(CASE WHEN ordered_at >= ? THEN 1 ELSE 0 END) AS BIGINT) AS recent_count, \
       CAST(SUM(CASE WHEN ordered_at >= ? THEN amount_e4 ELSE 0 END) AS BIGINT) AS recent_e4 \
     FROM orders WHERE tenant_id = ? AND customer_id = ? AND status NOT IN (?, ?) \
     GROUP BY currency ORDER BY currency";
const LAST_ORDER_SQL: &str = "SELECT * FROM orders WHERE tenant_id = ? AND customer_id = ? AND status NOT IN (?, ?) ORDER BY ordered_at DESC, id DESC LIMIT 1";
const SATISFACTION_SQL: &str = "SELECT * FROM satisfaction_records WHERE customer_id = ? ORDER BY recorded_at DESC, id DESC LIMIT ?";

/// The seven statements of one view, bound for one customer, as `store::customer_360::load`
/// issues them.
struct ViewStatements {
    customer: Statement,
    tags: Statement,
    contacts: Statement,
    interactions: Statement,
    order_totals: Statement,
    last_order: Statement,
    satisfaction: Statement,
}

impl ViewStatements {
    fn new(tenant_id: Id, customer_id: Id, now: DateTime<Utc>) -> Self {
        let since = now - chrono::Duration::days(RECENT_ORDER_DAYS);
        let [cancelled, refunded] =
            OrderStatus::NOT_COUNTED.map(|status| Value::from(<&'static str>::from(status)));
        let id = Value::from(customer_id);
        ViewStatements {
            customer: sql(CUSTOMER_SQL, [id.clone(), tenant_id.into()]),
            tags: sql(TAGS_SQL, [id.clone()]),
            contacts: sql(CONTACTS_SQL, [id.clone(), MAX_CONTACTS.into()]),
            interactions: sql(
                INTERACTIONS_SQL,
                [id.clone(), DEFAULT_RECENT_INTERACTIONS.into()],
            ),
            order_totals: sql(
                ORDER_TOTALS_SQL,
                [
                    since.into(),
                    since.into(),
                    tenant_id.into(),
                    id.clone(),
                    cancelled.clone(),
                    refunded.clone(),
                ],
            ),
            last_order: sql(
                LAST_ORDER_SQL,
                [tenant_id.into(), id.clone(), cancelled, refunded],
            ),
            satisfaction: sql(SATISFACTION_SQL, [id, SATISFACTION_HISTORY.into()]),
        }
    }

    fn named(&self) -> [(&'static str, &Statement); 7] {
        [
            ("customer", &self.customer),
            ("tags", &self.tags),
            ("contacts", &self.contacts),
            ("interactions", &self.interactions),
            ("order totals", &self.order_totals),
            ("last order", &self.last_order),
            ("satisfaction", &self.satisfaction),
        ]
    }
}

fn sql<const N: usize>(text: &str, values: [Value; N]) -> Statement {
    Statement::from_sql_and_values(DbBackend::Sqlite, text, values)
}

/// Runs the view with the shape of `store::customer_360::load`: the seven statements one after
/// the other in one read transaction, so that the baseline differs from the endpoint only by
/// what lies around the SQL.
async fn query_360(db: &DatabaseConnection, tenant_id: Id, customer_id: Id) -> Result<(), DbErr> {
    let view = ViewStatements::new(tenant_id, customer_id, Utc::now());
    let tx = db.begin().await?;
    if tx.query_one_raw(view.customer).await?.is_none() {
        return Err(DbErr::RecordNotFound(format!("customer {customer_id}")));
    }
    tx.query_all_raw(view.tags).await?;
    tx.query_all_raw(view.contacts).await?;
    tx.query_all_raw(view.interactions).await?;
    tx.query_all_raw(view.order_totals).await?;
    tx.query_one_raw(view.last_order).await?;
    tx.query_all_raw(view.satisfaction).await?;
    tx.commit().await
}

/// Prints SQLite's plan of each statement, so a slow run can be told apart from a missing index
/// at a glance.
async fn print_query_plans(db: &DatabaseConnection, bench: &Bench) {
    println!("query plans:");
    for (name, statement) in
        ViewStatements::new(bench.tenant_id, bench.first_id, Utc::now()).named()
    {
        let explain = Statement {
            sql: format!("EXPLAIN QUERY PLAN {}", statement.sql),
            ..statement.clone()
        };
        let steps: Vec<String> = db
            .query_all_raw(explain)
            .await
            .expect("EXPLAIN QUERY PLAN")
            .iter()
            .filter_map(|row| row.try_get_by_index::<String>(3).ok())
            .collect();
        println!("  {name:<13} {}", steps.join("; "));
    }
}

// ---------------------------------------------------------------------------------------------
// Load generation and measurement

/// What a load phase measured: latencies of successful requests, in microseconds.
struct LoadResult {
    latencies: Histogram<u64>,
    failures: u64,
    first_failure: Option<String>,
    elapsed: Duration,
}

impl LoadResult {
    fn empty() -> Self {
        LoadResult {
            latencies: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            failures: 0,
            first_failure: None,
            elapsed: Duration::ZERO,
        }
    }

    fn record(&mut self, latency: Duration, outcome: Outcome) {
        match outcome {
            Ok(()) => self
                .latencies
                .saturating_record(latency.as_micros().try_into().unwrap_or(u64::MAX)),
            Err(failure) => {
                self.failures += 1;
                self.first_failure.get_or_insert(failure);
            }
        }
    }

    fn merge(&mut self, other: LoadResult) {
        self.latencies
            .add(&other.latencies)
            .expect("histograms with the same bounds");
        self.failures += other.failures;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
    }

    fn requests_per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn quantile(&self, quantile: f64) -> Duration {
        Duration::from_micros(self.latencies.value_at_quantile(quantile))
    }

    fn max(&self) -> Duration {
        Duration::from_micros(self.latencies.max())
    }

    fn print(&self, label: &str) {
        println!(
            "{label}: {} ok, {} failed in {:.1} s",
            self.latencies.len(),
            self.failures,
            self.elapsed.as_secs_f64()
        );
        if let Some(failure) = &self.first_failure {
            println!("  first failure: {failure}");
        }
    }
}

/// Runs `concurrency` closed-loop workers for the warm-up plus the measured time, recording only
/// requests that start after the warm-up. One continuous run (instead of a separate warm-up run)
/// keeps the connections and caches warm at the moment measuring starts.
async fn run_load(config: &Config, bench: &Bench, reader: impl ViewReader) -> LoadResult {
    let measure_from = Instant::now() + WARM_UP;
    let stop_at = measure_from + config.measured;
    let workers: Vec<_> = (0..config.concurrency)
        .map(|n| {
            tokio::spawn(worker(
                n as u64,
                bench.clone(),
                measure_from,
                stop_at,
                reader.clone(),
            ))
        })
        .collect();
    let mut total = LoadResult::empty();
    for worker in workers {
        total.merge(worker.await.expect("load worker panicked"));
    }
    total.elapsed = measure_from.elapsed();
    total
}

async fn worker(
    seed: u64,
    bench: Bench,
    measure_from: Instant,
    stop_at: Instant,
    reader: impl ViewReader,
) -> LoadResult {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut result = LoadResult::empty();
    loop {
        let started = Instant::now();
        if started >= stop_at {
            return result;
        }
        let outcome = reader.read(bench.random_customer(&mut rng)).await;
        if started >= measure_from {
            result.record(started.elapsed(), outcome);
        }
    }
}

/// Starts `config.rate` requests a second on a fixed schedule for the warm-up plus the measured
/// time; each latency runs from the request's scheduled start, not from when it got sent.
async fn run_at_rate(config: &Config, bench: &Bench, reader: impl ViewReader) -> LoadResult {
    let interval = Duration::from_secs_f64(1.0 / f64::from(config.rate.max(1)));
    let started = Instant::now();
    let measure_from = started + WARM_UP;
    let stop_at = measure_from + config.measured;
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let mut rng = StdRng::seed_from_u64(99);
    let mut ticks = tokio::time::interval_at(started.into(), interval);
    // A late tick is sent at once, then the schedule goes on: no request is skipped.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut scheduled = started;
    while scheduled < stop_at {
        ticks.tick().await;
        let permit = in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore open");
        let (reader, sender) = (reader.clone(), sender.clone());
        let customer_id = bench.random_customer(&mut rng);
        let due = scheduled;
        tokio::spawn(async move {
            let outcome = reader.read(customer_id).await;
            let _ = sender.send((due, due.elapsed(), outcome));
            drop(permit);
        });
        scheduled += interval;
    }
    drop(sender);
    let mut total = LoadResult::empty();
    let mut last_answer = stop_at;
    while let Some((due, latency, outcome)) = receiver.recv().await {
        if due >= measure_from {
            total.record(latency, outcome);
            last_answer = last_answer.max(due + latency);
        }
    }
    // Served per second: an overloaded server answers the last scheduled requests late, so its
    // rate is what it answered over the time it took, not the rate it was offered.
    total.elapsed = last_answer - measure_from;
    total
}

// ---------------------------------------------------------------------------------------------
// Report

/// The four load phases of one run.
struct Phases {
    http_closed: LoadResult,
    bare_closed: LoadResult,
    http_open: LoadResult,
    bare_open: LoadResult,
}

impl Phases {
    fn failures(&self) -> u64 {
        [
            &self.http_closed,
            &self.bare_closed,
            &self.http_open,
            &self.bare_open,
        ]
        .iter()
        .map(|phase| phase.failures)
        .sum()
    }

    fn print(&self, config: &Config) {
        let closed = format!("closed loop, {} clients", config.concurrency);
        let open = format!("open loop at {} rps", config.rate);
        for (label, phase) in [
            (format!("HTTP GET /360, {closed}"), &self.http_closed),
            (format!("bare SQL, {closed}"), &self.bare_closed),
            (format!("HTTP GET /360, {open}"), &self.http_open),
            (format!("bare SQL, {open}"), &self.bare_open),
        ] {
            phase.print(&label);
        }
        println!();
        println!(
            "{:<40}{:>10}{:>9}{:>11}{:>10}{:>10}{:>10}{:>10}",
            "phase", "requests", "failed", "rps", "p50", "p90", "p99", "max"
        );
        print_row(&format!("HTTP, {closed}"), &self.http_closed);
        print_row(&format!("bare SQL, {closed}"), &self.bare_closed);
        print_row(&format!("HTTP, {open}"), &self.http_open);
        print_row(&format!("bare SQL, {open}"), &self.bare_open);
        let (http, bare) = (&self.http_closed, &self.bare_closed);
        println!(
            "capacity, HTTP / bare SQL: {:.2}x; open loop p99, HTTP / bare SQL: {:.2}x",
            http.requests_per_second() / bare.requests_per_second(),
            ratio(self.http_open.quantile(0.99), self.bare_open.quantile(0.99)),
        );
        // Latencies run from each request's scheduled start, so a server that falls behind the
        // offered rate cannot keep its p99 low: meeting the p99 with every request answered is
        // serving the offered rate. (The served rate above charges the last request's own
        // latency to the window, so it reads a hair under the offered rate even then.)
        let open = &self.http_open;
        let offered = f64::from(config.rate);
        let met = offered >= GOAL_RPS && open.failures == 0 && open.quantile(0.99) <= GOAL_P99;
        println!(
            "goal (HTTP p99 <= {} at >= {GOAL_RPS:.0} rps, open loop): {} (p99 {} at {offered:.0} rps offered, {:.0} served, {} failed)",
            millis(GOAL_P99),
            if met { "MET" } else { "NOT MET" },
            millis(open.quantile(0.99)),
            open.requests_per_second(),
            open.failures
        );
    }
}

fn print_row(label: &str, result: &LoadResult) {
    println!(
        "{label:<40}{:>10}{:>9}{:>11.0}{:>10}{:>10}{:>10}{:>10}",
        result.latencies.len(),
        result.failures,
        result.requests_per_second(),
        millis(result.quantile(0.5)),
        millis(result.quantile(0.9)),
        millis(result.quantile(0.99)),
        millis(result.max())
    );
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn millis(duration: Duration) -> String {
    format!("{:.2}ms", duration.as_secs_f64() * 1_000.0)
}
