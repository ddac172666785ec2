//! Authorization check benchmark (criterion), against the goal: ≤ 5 µs median per check
//! (cached) with 10k policies and 1k users in one tenant.
//!
//! Set-up, on an embedded SQLite store: one tenant with its built-in roles plus 125 custom roles
//! of 80 grants each (10,000 `p` lines with the built-ins' ~200), 1,000 users holding a built-in
//! and a custom role (2,000 `g` lines). The tenant's policy is loaded as the server loads it.
//!
//! Measured, round-robin over the 1,000 users so every check is a different request:
//! - `authz/allows_cached`: one `(user, tenant, resource, action)` decision with the user's
//!   permissions resolved, as the middleware makes for unscoped routes;
//! - `authz/scope_cached`: the widest scope of a scoped permission (up to three decisions), as
//!   the middleware makes for record routes;
//! - `authz/first_check_of_a_user`: resolving a user's permissions through casbin (roles with
//!   domains, then the roles' lines): what a user's first check after a (re)load costs;
//! - `authz/casbin_matcher`: the same decision through casbin's matcher, which evaluates every
//!   line in rhai: the cost the resolved sets avoid (decisions of both are compared first);
//! - `authz/reload`: loading the tenant's 12k lines into a fresh enforcer (what a replica does
//!   after a permission change).
//!
//! `cargo bench -p rapport-tests --bench authorization`

use std::path::Path;
use std::time::{Duration, SystemTime};

use criterion::Criterion;
use rapport::authz::TenantPolicy;
use rapport::domain::access::{NewRole, Permission, RESOURCES};
use rapport::domain::identity::{TenantFields, UserInput};
use rapport::store::{access, tenants, users};
use sea_orm::DatabaseConnection;

const USERS: usize = 1_000;
const CUSTOM_ROLES: usize = 125;
const GOAL_NS: f64 = 5_000.0;

mod common;

use common::{criterion_home, median_ns};

fn main() {
    let started = SystemTime::now();
    let output = criterion_home();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .output_directory(&output)
        .configure_from_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, tenant_id, user_ids, lines) = rt.block_on(seed(dir.path()));
    let policy = rt
        .block_on(TenantPolicy::load(&db, tenant_id, 0))
        .expect("load policy");
    eprintln!(
        "tenant {tenant_id}: {lines} policy lines, {} users",
        user_ids.len()
    );
    assert!(
        policy.allows(user_ids[0], "customers", "read:own"),
        "account managers read their own customers"
    );
    assert!(!policy.allows(user_ids[0], "tenants", "manage"));
    same_decisions(&policy, &user_ids);

    let mut next = 0_usize;
    let mut user = move || {
        next = (next + 1) % USERS;
        user_ids[next]
    };
    for _ in 0..USERS {
        policy.allows(user(), "customers", "read:all");
        policy.scope(user(), "contacts", "update");
    }
    let mut group = criterion.benchmark_group("authz");
    group.bench_function("allows_cached", |b| {
        b.iter(|| policy.allows(user(), "customers", "read:all"))
    });
    group.bench_function("scope_cached", |b| {
        b.iter(|| policy.scope(user(), "contacts", "update"))
    });
    group.bench_function("first_check_of_a_user", |b| {
        b.iter(|| policy.resolve(user()))
    });
    group.sample_size(20);
    group.bench_function("casbin_matcher", |b| {
        b.iter(|| policy.enforce(user(), "customers", "read:all"))
    });
    group.sample_size(10);
    group.bench_function("reload", |b| {
        b.iter(|| {
            rt.block_on(TenantPolicy::load(&db, tenant_id, 1))
                .expect("reload")
        })
    });
    group.finish();
    criterion.final_summary();
    summary(&output, started);
}

/// The resolved sets must decide exactly as casbin's matcher before either is measured.
fn same_decisions(policy: &TenantPolicy, user_ids: &[i64]) {
    let catalogue = catalogue();
    let mut allowed = 0;
    for (i, user) in user_ids.iter().enumerate().step_by(50) {
        for permission in catalogue.iter().skip(i % 7).step_by(7) {
            let action = permission.casbin_action();
            let fast = policy.allows(*user, &permission.resource, &action);
            assert_eq!(
                fast,
                policy.enforce(*user, &permission.resource, &action),
                "{user} {permission}"
            );
            allowed += usize::from(fast);
        }
    }
    eprintln!("resolved sets and casbin's matcher agree ({allowed} allowed decisions checked)");
}

/// Every grantable permission, each scoped one at every scope.
fn catalogue() -> Vec<Permission> {
    let mut all = Vec::new();
    for resource in RESOURCES.iter().filter(|r| !r.platform) {
        for action in resource.actions {
            let scopes: &[&str] = if resource.scoped {
                &["own", "team", "all"]
            } else {
                &[""]
            };
            for scope in scopes {
                let text = if scope.is_empty() {
                    format!("{}:{action}", resource.name)
                } else {
                    format!("{}:{action}:{scope}", resource.name)
                };
                all.push(text.parse().expect("catalogue permission"));
            }
        }
    }
    all
}

async fn seed(dir: &Path) -> (DatabaseConnection, i64, Vec<i64>, usize) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("rapport.db").display());
    let db = rapport::server::open_store(&url).await.expect("store");
    let fields = TenantFields {
        slug: "authz-bench".into(),
        name: "Authorization benchmark".into(),
        default_region: "CN".into(),
        default_currency: "CNY".into(),
        custom_field_schema: None,
    };
    let admin = UserInput {
        email: "admin@authz.bench".into(),
        display_name: "Admin".into(),
        role: None,
        department_id: None,
    };
    let (tenant, _, _) = tenants::create_with_admin(&db, fields, admin)
        .await
        .expect("tenant");
    let catalogue = catalogue();
    let per_role = 80.min(catalogue.len());
    for role in 0..CUSTOM_ROLES {
        let permissions = (0..per_role)
            .map(|k| catalogue[(role * 7 + k) % catalogue.len()].clone())
            .collect();
        let role = NewRole {
            name: format!("custom-{role}"),
            description: String::new(),
            permissions,
        };
        access::create_role(&db, tenant.id, role)
            .await
            .expect("role");
    }
    let mut user_ids = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let input = UserInput {
            email: format!("user{i}@authz.bench"),
            display_name: format!("User {i}"),
            role: None,
            department_id: None,
        };
        let user = users::create(&db, tenant.id, input).await.expect("user");
        let custom = format!("custom-{}", i % CUSTOM_ROLES);
        access::assign(&db, tenant.id, user.id, &custom)
            .await
            .expect("assign");
        user_ids.push(user.id);
    }
    let lines = access::list_roles(&db, tenant.id)
        .await
        .expect("roles")
        .iter()
        .map(|role| role.permissions.len())
        .sum::<usize>()
        + 2 * USERS;
    (db, tenant.id, user_ids, lines)
}

fn summary(output: &Path, since: SystemTime) {
    println!("\nauthorization summary (criterion medians of this run)");
    for (id, what) in [
        ("authz/allows_cached", "one decision, cached"),
        ("authz/scope_cached", "widest scope (≤ 3 decisions), cached"),
        (
            "authz/first_check_of_a_user",
            "first check of a user (resolution)",
        ),
        (
            "authz/casbin_matcher",
            "one decision through casbin's matcher",
        ),
        ("authz/reload", "reload of the tenant's policy"),
    ] {
        match median_ns(output, id, since) {
            Some(ns) if id == "authz/allows_cached" => println!(
                "  {what:<40} {:>10.3} µs   goal ≤ {:.0} µs: {}",
                ns / 1e3,
                GOAL_NS / 1e3,
                if ns <= GOAL_NS { "met" } else { "MISSED" }
            ),
            Some(ns) => println!("  {what:<40} {:>10.3} µs", ns / 1e3),
            None => println!("  {what:<40} not measured in this run"),
        }
    }
}
