//! Recurring jobs and their leases. A process claims a due job by taking its lease in a short
//! transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent claimers pass over it;
//! SQLite: one writer at a time), runs it outside that transaction, and completes it by moving
//! `next_run_at` on — only while it still holds the lease. A process that dies mid-run loses the
//! lease when it expires and another process runs the job; actions are idempotent, so that
//! retry cannot duplicate their effects.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
};

use super::entity::schedule;
use super::{StoreError, StoreResult, begin_write};
use crate::domain::Id;
use crate::domain::automation::Schedule;

/// The full re-tier, nightly by default.
pub const TIERING: &str = "tiering";
/// `task.due_soon` / `task.overdue` reminders.
pub const TASK_REMINDERS: &str = "task-reminders";

/// The built-in jobs every customer tenant has, with their default intervals in minutes.
const TENANT_JOBS: [(&str, i32); 2] = [(TIERING, 24 * 60), (TASK_REMINDERS, 5)];

/// Nightly jobs start at 02:00 UTC, when customers are least likely to be served.
fn first_run(job: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    if job != TIERING {
        return now;
    }
    let two = now
        .date_naive()
        .and_time(NaiveTime::from_hms_opt(2, 0, 0).expect("02:00"))
        .and_utc();
    if two > now {
        two
    } else {
        two + Duration::days(1)
    }
}

fn to_domain(row: schedule::Model) -> Schedule {
    Schedule {
        job: row.job,
        enabled: row.enabled,
        interval_minutes: u32::try_from(row.interval_minutes).unwrap_or(0),
        next_run_at: row.next_run_at,
        running: row.lease_owner.is_some(),
        runs: u64::try_from(row.runs).unwrap_or(0),
        last_started_at: row.last_started_at,
        last_finished_at: row.last_finished_at,
        last_run_by: row.last_run_by,
        last_outcome: row.last_outcome,
    }
}

async fn find(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    job: &str,
) -> StoreResult<Option<schedule::Model>> {
    Ok(schedule::Entity::find()
        .filter(schedule::Column::TenantId.eq(tenant_id))
        .filter(schedule::Column::Job.eq(job))
        .one(db)
        .await?)
}

/// Creates the job (due at once, or at the nightly hour) or updates its interval and switch.
pub async fn upsert(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    job: &str,
    interval_minutes: i32,
    enabled: bool,
) -> StoreResult<()> {
    match find(db, tenant_id, job).await? {
        Some(row) => {
            let mut row: schedule::ActiveModel = row.into();
            row.interval_minutes = Set(interval_minutes);
            row.enabled = Set(enabled);
            row.update(db).await?;
        }
        None => {
            schedule::ActiveModel {
                tenant_id: Set(tenant_id),
                job: Set(job.to_owned()),
                enabled: Set(enabled),
                interval_minutes: Set(interval_minutes),
                next_run_at: Set(first_run(job, Utc::now())),
                runs: Set(0),
                ..Default::default()
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

pub async fn remove(db: &impl ConnectionTrait, tenant_id: Id, job: &str) -> StoreResult<()> {
    schedule::Entity::delete_many()
        .filter(schedule::Column::TenantId.eq(tenant_id))
        .filter(schedule::Column::Job.eq(job))
        .exec(db)
        .await?;
    Ok(())
}

/// Gives a tenant the built-in jobs it lacks.
pub async fn ensure_tenant_jobs(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<()> {
    for (job, minutes) in TENANT_JOBS {
        if find(db, tenant_id, job).await?.is_none() {
            upsert(db, tenant_id, job, minutes, true).await?;
        }
    }
    Ok(())
}

pub async fn ensure_jobs_everywhere(db: &impl ConnectionTrait) -> StoreResult<()> {
    for tenant_id in super::tenants::customer_tenant_ids(db).await? {
        ensure_tenant_jobs(db, tenant_id).await?;
    }
    Ok(())
}

pub async fn list(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<Vec<Schedule>> {
    Ok(schedule::Entity::find()
        .filter(schedule::Column::TenantId.eq(tenant_id))
        .order_by_asc(schedule::Column::Job)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// Changes a built-in job's interval, switch, or next run.
pub async fn configure(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    job: &str,
    interval_minutes: Option<u32>,
    enabled: Option<bool>,
    next_run_at: Option<DateTime<Utc>>,
) -> StoreResult<Schedule> {
    let row = find(db, tenant_id, job)
        .await?
        .ok_or(StoreError::NotFound("schedule"))?;
    let mut row: schedule::ActiveModel = row.into();
    if let Some(minutes) = interval_minutes {
        row.interval_minutes = Set(i32::try_from(minutes).unwrap_or(i32::MAX));
    }
    if let Some(enabled) = enabled {
        row.enabled = Set(enabled);
    }
    if let Some(at) = next_run_at {
        row.next_run_at = Set(at);
    }
    Ok(to_domain(row.update(db).await?))
}

/// A job this process holds the lease of.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: Id,
    pub tenant_id: Id,
    pub job: String,
    pub interval_minutes: i32,
    pub scheduled_for: DateTime<Utc>,
}

/// Takes the lease of up to `limit` due jobs for `owner` until `now + lease`.
pub async fn claim_due(
    db: &impl TransactionTrait,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> StoreResult<Vec<Claim>> {
    let tx = begin_write(db).await?;
    let free = Condition::any()
        .add(schedule::Column::LeaseUntil.is_null())
        .add(schedule::Column::LeaseUntil.lt(now));
    let mut query = schedule::Entity::find()
        .filter(schedule::Column::Enabled.eq(true))
        .filter(schedule::Column::NextRunAt.lte(now))
        .filter(free)
        .order_by_asc(schedule::Column::NextRunAt)
        .limit(limit);
    if tx.get_database_backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let due = query.all(&tx).await?;
    let mut claims = Vec::with_capacity(due.len());
    for row in due {
        schedule::Entity::update_many()
            .col_expr(schedule::Column::LeaseOwner, Expr::value(owner))
            .col_expr(schedule::Column::LeaseUntil, Expr::value(now + lease))
            .col_expr(schedule::Column::LastStartedAt, Expr::value(now))
            .filter(schedule::Column::Id.eq(row.id))
            .exec(&tx)
            .await?;
        claims.push(Claim {
            id: row.id,
            tenant_id: row.tenant_id,
            job: row.job,
            interval_minutes: row.interval_minutes,
            scheduled_for: row.next_run_at,
        });
    }
    tx.commit().await?;
    Ok(claims)
}

/// The next occurrence after `now`: missed occurrences are skipped, not caught up.
fn next_after(
    scheduled_for: DateTime<Utc>,
    interval_minutes: i32,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let step = Duration::minutes(i64::from(Ord::max(interval_minutes, 1)));
    let missed = Ord::max((now - scheduled_for).num_minutes() / step.num_minutes(), 0);
    let next = scheduled_for + step * i32::try_from(missed).unwrap_or(i32::MAX);
    if next > now { next } else { next + step }
}

/// Ends a run: counts it, records its outcome and schedules the next occurrence. Does nothing
/// when `owner` no longer holds the lease (it expired and another process took the job).
pub async fn complete(
    db: &impl ConnectionTrait,
    claim: &Claim,
    owner: &str,
    outcome: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let next = next_after(claim.scheduled_for, claim.interval_minutes, now);
    let done = schedule::Entity::update_many()
        .col_expr(schedule::Column::NextRunAt, Expr::value(next))
        .col_expr(
            schedule::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            schedule::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            schedule::Column::Runs,
            Expr::col(schedule::Column::Runs).add(1),
        )
        .col_expr(schedule::Column::LastFinishedAt, Expr::value(now))
        .col_expr(schedule::Column::LastRunBy, Expr::value(owner))
        .col_expr(schedule::Column::LastOutcome, Expr::value(outcome))
        .filter(schedule::Column::Id.eq(claim.id))
        .filter(schedule::Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_occurrence_skips_missed_ones() {
        let at = |h: u32, m: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
                .and_utc()
        };
        assert_eq!(next_after(at(2, 0), 60, at(2, 1)), at(3, 0));
        assert_eq!(next_after(at(2, 0), 60, at(5, 30)), at(6, 0));
        assert_eq!(next_after(at(2, 0), 60, at(3, 0)), at(4, 0));
        assert_eq!(first_run(TIERING, at(3, 0)), at(2, 0) + Duration::days(1));
        assert_eq!(first_run(TIERING, at(1, 0)), at(2, 0));
    }
}
