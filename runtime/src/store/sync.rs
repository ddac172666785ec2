//! ERP sync persistence: connectors and their leases, stream cursors, runs, the links between
//! external and CRM customers, the review queue, and the import of one page of records.
//!
//! The import of a page ([`apply_customers`], [`apply_orders`]) and [`commit_page`] run in the
//! caller's transaction: the page's upserts, the stream's new cursor, the run's counters and the
//! renewal of the connector's lease commit together or not at all. That is the whole of the
//! engine's exactly-once promise: a process killed at any point left either a page and its
//! cursor, or neither, and the next run reads from the last committed cursor.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::entity::{
    contact, customer, order, sync_connector, sync_link, sync_review, sync_run, sync_run_stream,
    sync_stream, tier_request,
};
use super::{StoreError, StoreResult, parse_column};
use crate::domain::Id;
use crate::domain::customer::{CustomerInput, CustomerKind, normalize_tax_id};
use crate::domain::erp_records::{ExternalCustomer, ExternalOrder, ExternalRecord};
use crate::domain::sync::{
    MappedOrder, MatchRule, ReviewItem, ReviewKind, ReviewReason, ReviewResolution, ReviewStatus,
    RunError, RunOutcome, RunTrigger, StreamCounts, StreamRun, StreamState, SyncConnector, SyncRun,
    SyncSettings, UnmatchedPolicy, customer_code, customer_fingerprint, map_order,
};

/// Values per `IN (…)` list and rows per multi-row `INSERT`, well under SQLite's and
/// PostgreSQL's bind-parameter limits.
const CHUNK: usize = 500;

// ---- connectors ---------------------------------------------------------------------------

fn settings_of(row: &sync_connector::Model) -> StoreResult<SyncSettings> {
    serde_json::from_str(&row.settings)
        .map_err(|error| StoreError::Corrupt(format!("sync_connectors.settings: {error}")))
}

async fn connector_row(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    plugin_id: &str,
) -> StoreResult<sync_connector::Model> {
    sync_connector::Entity::find()
        .filter(sync_connector::Column::TenantId.eq(tenant_id))
        .filter(sync_connector::Column::PluginId.eq(plugin_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("sync connector"))
}

async fn view(
    db: &impl ConnectionTrait,
    row: sync_connector::Model,
    now: DateTime<Utc>,
) -> StoreResult<SyncConnector> {
    let streams = sync_stream::Entity::find()
        .filter(sync_stream::Column::ConnectorId.eq(row.id))
        .order_by_asc(sync_stream::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|s| StreamState {
            stream: s.stream,
            cursor: s.cursor,
            last_run_id: s.last_run_id,
            last_success_at: s.last_success_at,
        })
        .collect();
    Ok(SyncConnector {
        settings: settings_of(&row)?,
        plugin_id: row.plugin_id,
        next_run_at: row.next_run_at,
        running_until: row.lease_until.filter(|until| *until > now),
        streams,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub async fn get_connector(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    plugin_id: &str,
) -> StoreResult<SyncConnector> {
    let row = connector_row(db, tenant_id, plugin_id).await?;
    view(db, row, Utc::now()).await
}

pub async fn list_connectors(
    db: &impl ConnectionTrait,
    tenant_id: Id,
) -> StoreResult<Vec<SyncConnector>> {
    let rows = sync_connector::Entity::find()
        .filter(sync_connector::Column::TenantId.eq(tenant_id))
        .order_by_asc(sync_connector::Column::PluginId)
        .all(db)
        .await?;
    let now = Utc::now();
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        views.push(view(db, row, now).await?);
    }
    Ok(views)
}

/// Creates or replaces the sync settings of a tenant's connector. The source cannot change
/// once records were synced under it (they would no longer be recognised); a newly scheduled
/// connector is due at once.
pub async fn put_connector(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    plugin_id: &str,
    settings: SyncSettings,
) -> StoreResult<SyncConnector> {
    let now = Utc::now();
    let existing = sync_connector::Entity::find()
        .filter(sync_connector::Column::TenantId.eq(tenant_id))
        .filter(sync_connector::Column::PluginId.eq(plugin_id))
        .one(db)
        .await?;
    let text = serde_json::to_string(&settings).expect("settings serialise");
    let scheduled = settings.interval_minutes.is_some() && settings.enabled;
    let row = match existing {
        Some(row) => {
            if row.source != settings.source && source_in_use(db, tenant_id, &row.source).await? {
                return Err(StoreError::Conflict {
                    code: "source_in_use",
                    message: format!(
                        "records were synced under the source `{}`; it cannot change",
                        row.source
                    ),
                });
            }
            let next_run_at = match (scheduled, row.next_run_at) {
                (false, _) => None,
                (true, Some(at)) => Some(at),
                (true, None) => Some(now),
            };
            let mut active: sync_connector::ActiveModel = row.into();
            active.source = Set(settings.source.clone());
            active.settings = Set(text);
            active.enabled = Set(settings.enabled);
            active.next_run_at = Set(next_run_at);
            active.updated_at = Set(now);
            active.update(db).await.map_err(duplicate_source)?
        }
        None => sync_connector::ActiveModel {
            tenant_id: Set(tenant_id),
            plugin_id: Set(plugin_id.to_owned()),
            source: Set(settings.source.clone()),
            settings: Set(text),
            enabled: Set(settings.enabled),
            next_run_at: Set(scheduled.then_some(now)),
            lease_owner: Set(None),
            lease_until: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .map_err(duplicate_source)?,
    };
    view(db, row, now).await
}

fn duplicate_source(error: sea_orm::DbErr) -> StoreError {
    StoreError::conflict_on_unique(
        error,
        "duplicate_source",
        "another connector of this tenant already syncs under this source",
    )
}

async fn source_in_use(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    source: &str,
) -> StoreResult<bool> {
    let links = sync_link::Entity::find()
        .filter(sync_link::Column::TenantId.eq(tenant_id))
        .filter(sync_link::Column::Source.eq(source))
        .count(db)
        .await?;
    let orders = order::Entity::find()
        .filter(order::Column::TenantId.eq(tenant_id))
        .filter(order::Column::Source.eq(source))
        .limit(1)
        .count(db)
        .await?;
    let reviews = sync_review::Entity::find()
        .filter(sync_review::Column::TenantId.eq(tenant_id))
        .filter(sync_review::Column::Source.eq(source))
        .limit(1)
        .count(db)
        .await?;
    Ok(links + orders + reviews > 0)
}

/// Connectors whose schedule is due and whose lease is free: `(tenant, plugin)`.
pub async fn due_connectors(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> StoreResult<Vec<(Id, String)>> {
    Ok(sync_connector::Entity::find()
        .filter(sync_connector::Column::Enabled.eq(true))
        .filter(sync_connector::Column::NextRunAt.lte(now))
        .filter(lease_free(now))
        .order_by_asc(sync_connector::Column::NextRunAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.tenant_id, row.plugin_id))
        .collect())
}

fn lease_free(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(sync_connector::Column::LeaseUntil.is_null())
        .add(sync_connector::Column::LeaseUntil.lt(now))
}

// ---- runs ----------------------------------------------------------------------------------

/// What a started run needs to know.
#[derive(Debug, Clone)]
pub struct StartedRun {
    pub run_id: Id,
    /// The lease's holder: this run alone, so that another run of the same process cannot
    /// renew or release it.
    pub lease_owner: String,
    pub connector_id: Id,
    pub tenant_id: Id,
    pub plugin_id: String,
    pub source: String,
    pub settings: SyncSettings,
}

/// Claims the connector's lease for `owner` and records a new run. Refused while another
/// process holds an unexpired lease (`sync_running`) or when the connector is paused. Runs left
/// `running` by a process that died are marked `interrupted`.
pub async fn start_run(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    plugin_id: &str,
    trigger: RunTrigger,
    owner: &str,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<StartedRun> {
    let row = connector_row(db, tenant_id, plugin_id).await?;
    if !row.enabled {
        return Err(StoreError::Conflict {
            code: "connector_paused",
            message: format!("syncing {plugin_id} is paused for this tenant"),
        });
    }
    let lease_owner = format!("{owner}/{:016x}", rand::random::<u64>());
    let claimed = sync_connector::Entity::update_many()
        .col_expr(
            sync_connector::Column::LeaseOwner,
            Expr::value(lease_owner.as_str()),
        )
        .col_expr(sync_connector::Column::LeaseUntil, Expr::value(lease_until))
        .filter(sync_connector::Column::Id.eq(row.id))
        .filter(lease_free(now))
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(StoreError::Conflict {
            code: "sync_running",
            message: format!("a sync of {plugin_id} is already running"),
        });
    }
    let interrupted: &'static str = RunOutcome::Interrupted.into();
    let running: &'static str = RunOutcome::Running.into();
    let stale_runs = sync_run::Entity::find()
        .select_only()
        .column(sync_run::Column::Id)
        .filter(sync_run::Column::ConnectorId.eq(row.id))
        .filter(sync_run::Column::Outcome.eq(running))
        .into_tuple::<Id>()
        .all(db)
        .await?;
    if !stale_runs.is_empty() {
        sync_run::Entity::update_many()
            .col_expr(sync_run::Column::Outcome, Expr::value(interrupted))
            .col_expr(sync_run::Column::ErrorCode, Expr::value("interrupted"))
            .col_expr(
                sync_run::Column::ErrorMessage,
                Expr::value("the process running this sync stopped before it finished"),
            )
            .col_expr(sync_run::Column::FinishedAt, Expr::value(now))
            .filter(sync_run::Column::Id.is_in(stale_runs.clone()))
            .exec(db)
            .await?;
        sync_run_stream::Entity::update_many()
            .col_expr(sync_run_stream::Column::Outcome, Expr::value(interrupted))
            .col_expr(sync_run_stream::Column::FinishedAt, Expr::value(now))
            .filter(sync_run_stream::Column::RunId.is_in(stale_runs))
            .filter(sync_run_stream::Column::Outcome.eq(running))
            .exec(db)
            .await?;
    }
    let trigger: &'static str = trigger.into();
    let run = sync_run::ActiveModel {
        tenant_id: Set(tenant_id),
        connector_id: Set(row.id),
        plugin_id: Set(plugin_id.to_owned()),
        trigger: Set(trigger.to_owned()),
        run_by: Set(owner.to_owned()),
        outcome: Set(running.to_owned()),
        retries: Set(0),
        error_code: Set(None),
        error_message: Set(None),
        started_at: Set(now),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(StartedRun {
        settings: settings_of(&row)?,
        lease_owner,
        run_id: run.id,
        connector_id: row.id,
        tenant_id,
        plugin_id: plugin_id.to_owned(),
        source: row.source,
    })
}

/// Extends the lease while `owner` still holds it; `lease_lost` otherwise, so a process that
/// was presumed dead cannot commit over the one that took over.
pub async fn renew_lease(
    db: &impl ConnectionTrait,
    connector_id: Id,
    owner: &str,
    lease_until: DateTime<Utc>,
) -> StoreResult<()> {
    let renewed = sync_connector::Entity::update_many()
        .col_expr(sync_connector::Column::LeaseUntil, Expr::value(lease_until))
        .filter(sync_connector::Column::Id.eq(connector_id))
        .filter(sync_connector::Column::LeaseOwner.eq(owner))
        .exec(db)
        .await?;
    if renewed.rows_affected == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            code: "lease_lost",
            message: "another process took this sync over".into(),
        })
    }
}

/// Records how the run ended, releases the lease (if still ours) and schedules the next run.
pub async fn finish_run(
    db: &impl ConnectionTrait,
    run: &StartedRun,
    outcome: RunOutcome,
    error: Option<&RunError>,
    retries: i32,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let outcome: &'static str = outcome.into();
    sync_run::Entity::update_many()
        .col_expr(sync_run::Column::Outcome, Expr::value(outcome))
        .col_expr(sync_run::Column::Retries, Expr::value(retries))
        .col_expr(
            sync_run::Column::ErrorCode,
            Expr::value(error.map(|e| e.code.clone())),
        )
        .col_expr(
            sync_run::Column::ErrorMessage,
            Expr::value(error.map(|e| e.message.clone())),
        )
        .col_expr(sync_run::Column::FinishedAt, Expr::value(now))
        .filter(sync_run::Column::Id.eq(run.run_id))
        .exec(db)
        .await?;
    // The settings may have changed during the run: schedule from the current ones.
    let row = sync_connector::Entity::find_by_id(run.connector_id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("sync connector"))?;
    let next_run_at = settings_of(&row)?.next_run_after(now);
    sync_connector::Entity::update_many()
        .col_expr(
            sync_connector::Column::LeaseOwner,
            Expr::value(None::<String>),
        )
        .col_expr(
            sync_connector::Column::LeaseUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(sync_connector::Column::NextRunAt, Expr::value(next_run_at))
        .filter(sync_connector::Column::Id.eq(run.connector_id))
        .filter(sync_connector::Column::LeaseOwner.eq(run.lease_owner.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// Starts the record of one stream within a run; returns its id.
pub async fn start_stream(
    db: &impl ConnectionTrait,
    run: &StartedRun,
    stream: &str,
    now: DateTime<Utc>,
) -> StoreResult<Id> {
    let running: &'static str = RunOutcome::Running.into();
    let row = sync_run_stream::ActiveModel {
        tenant_id: Set(run.tenant_id),
        run_id: Set(run.run_id),
        stream: Set(stream.to_owned()),
        outcome: Set(running.to_owned()),
        pages: Set(0),
        records_read: Set(0),
        inserted: Set(0),
        updated: Set(0),
        unchanged: Set(0),
        unmatched: Set(0),
        error_code: Set(None),
        error_message: Set(None),
        started_at: Set(now),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

pub async fn finish_stream(
    db: &impl ConnectionTrait,
    run_stream_id: Id,
    outcome: RunOutcome,
    error: Option<&RunError>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let outcome: &'static str = outcome.into();
    sync_run_stream::Entity::update_many()
        .col_expr(sync_run_stream::Column::Outcome, Expr::value(outcome))
        .col_expr(
            sync_run_stream::Column::ErrorCode,
            Expr::value(error.map(|e| e.code.clone())),
        )
        .col_expr(
            sync_run_stream::Column::ErrorMessage,
            Expr::value(error.map(|e| e.message.clone())),
        )
        .col_expr(sync_run_stream::Column::FinishedAt, Expr::value(now))
        .filter(sync_run_stream::Column::Id.eq(run_stream_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The cursor committed with the stream's last imported page.
pub async fn stream_cursor(
    db: &impl ConnectionTrait,
    connector_id: Id,
    stream: &str,
) -> StoreResult<Option<String>> {
    Ok(sync_stream::Entity::find()
        .filter(sync_stream::Column::ConnectorId.eq(connector_id))
        .filter(sync_stream::Column::Stream.eq(stream))
        .one(db)
        .await?
        .and_then(|row| row.cursor))
}

/// Where a page goes and under whose lease.
#[derive(Debug, Clone)]
pub struct PageTarget<'a> {
    pub run: &'a StartedRun,
    pub run_stream_id: Id,
    pub stream: &'a str,
    pub lease_until: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// When the customers whose orders changed should be re-tiered.
    pub retier_at: DateTime<Utc>,
}

/// Finishes a page inside its transaction (which began with [`renew_lease`], so the page is
/// refused when another process took over): the stream's cursor moves to `cursor`, the run's counters grow, and a page that ended the stream
/// records its success.
pub async fn commit_page(
    db: &impl ConnectionTrait,
    target: &PageTarget<'_>,
    cursor: Option<&str>,
    counts: &StreamCounts,
    stream_finished: bool,
) -> StoreResult<()> {
    let row = sync_stream::ActiveModel {
        tenant_id: Set(target.run.tenant_id),
        connector_id: Set(target.run.connector_id),
        stream: Set(target.stream.to_owned()),
        cursor: Set(cursor.map(str::to_owned)),
        last_run_id: Set(Some(target.run.run_id)),
        last_success_at: Set(stream_finished.then_some(target.now)),
        updated_at: Set(target.now),
        ..Default::default()
    };
    let mut update = vec![
        sync_stream::Column::Cursor,
        sync_stream::Column::LastRunId,
        sync_stream::Column::UpdatedAt,
    ];
    if stream_finished {
        update.push(sync_stream::Column::LastSuccessAt);
    }
    sync_stream::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                sync_stream::Column::ConnectorId,
                sync_stream::Column::Stream,
            ])
            .update_columns(update)
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let add = |column: sync_run_stream::Column, by: i64| (column, Expr::col(column).add(by));
    let mut query = sync_run_stream::Entity::update_many();
    for (column, value) in [
        add(sync_run_stream::Column::Pages, counts.pages),
        add(sync_run_stream::Column::RecordsRead, counts.records_read),
        add(sync_run_stream::Column::Inserted, counts.inserted),
        add(sync_run_stream::Column::Updated, counts.updated),
        add(sync_run_stream::Column::Unchanged, counts.unchanged),
        add(sync_run_stream::Column::Unmatched, counts.unmatched),
    ] {
        query = query.col_expr(column, value);
    }
    query
        .filter(sync_run_stream::Column::Id.eq(target.run_stream_id))
        .exec(db)
        .await?;
    Ok(())
}

// ---- importing customers -------------------------------------------------------------------

/// The last occurrence of each external id, in first-seen order: a page may carry a record
/// twice, and the later one is the newer.
fn last_of_each<T, K: std::hash::Hash + Eq + Clone>(
    records: Vec<T>,
    key: impl Fn(&T) -> K,
) -> Vec<T> {
    let mut position: HashMap<K, usize> = HashMap::new();
    let mut kept: Vec<Option<T>> = Vec::with_capacity(records.len());
    for record in records {
        match position.get(&key(&record)) {
            Some(&at) => kept[at] = Some(record),
            None => {
                position.insert(key(&record), kept.len());
                kept.push(Some(record));
            }
        }
    }
    kept.into_iter().flatten().collect()
}

async fn links_of(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    source: &str,
    external_ids: &[&str],
) -> StoreResult<HashMap<String, sync_link::Model>> {
    let mut links = HashMap::new();
    for chunk in external_ids.chunks(CHUNK) {
        for row in sync_link::Entity::find()
            .filter(sync_link::Column::TenantId.eq(tenant_id))
            .filter(sync_link::Column::Source.eq(source))
            .filter(sync_link::Column::ExternalId.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            links.insert(row.external_id.clone(), row);
        }
    }
    Ok(links)
}

/// Imports a page of external customers: linked ones are refreshed (the ERP fills fields the
/// CRM left empty, and never overwrites what users entered), others are matched by tax id, then
/// by the connector's rule, then created or queued for review by its policy.
pub async fn apply_customers(
    db: &(impl ConnectionTrait + TransactionTrait),
    target: &PageTarget<'_>,
    records: Vec<ExternalCustomer>,
) -> StoreResult<StreamCounts> {
    let run = target.run;
    let mut counts = StreamCounts {
        pages: 1,
        records_read: records.len() as i64,
        ..Default::default()
    };
    let records = last_of_each(records, |c| c.external_id.clone());
    let ids: Vec<&str> = records.iter().map(|c| c.external_id.as_str()).collect();
    let links = links_of(db, run.tenant_id, &run.source, &ids).await?;
    for record in &records {
        let fingerprint = customer_fingerprint(record);
        if let Some(link) = links.get(&record.external_id) {
            if link.fingerprint == fingerprint {
                counts.unchanged += 1;
            } else {
                refresh_linked(db, target, link, record, &fingerprint).await?;
                counts.updated += 1;
            }
            continue;
        }
        match place_customer(db, run, record).await? {
            Placement::Existing(customer_id, matched_by) => {
                link_customer(
                    db,
                    target,
                    record,
                    customer_id,
                    matched_by,
                    ReviewStatus::Linked,
                )
                .await?;
                counts.inserted += 1;
            }
            Placement::Review(reason, detail) => {
                queue_review(
                    db,
                    target,
                    &ExternalRecord::Customer(record.clone()),
                    reason,
                    &detail,
                )
                .await?;
                counts.unmatched += 1;
            }
            Placement::Create => match create_customer(db, run, record, None, None).await? {
                Ok(customer_id) => {
                    link_customer(
                        db,
                        target,
                        record,
                        customer_id,
                        "created",
                        ReviewStatus::Created,
                    )
                    .await?;
                    counts.inserted += 1;
                }
                Err(detail) => {
                    let record = ExternalRecord::Customer(record.clone());
                    queue_review(db, target, &record, ReviewReason::Invalid, &detail).await?;
                    counts.unmatched += 1;
                }
            },
        }
    }
    Ok(counts)
}

enum Placement {
    Existing(Id, &'static str),
    Review(ReviewReason, String),
    Create,
}

async fn place_customer(
    db: &impl ConnectionTrait,
    run: &StartedRun,
    record: &ExternalCustomer,
) -> StoreResult<Placement> {
    let texts = [&record.external_id, &record.name];
    let optional = [
        &record.tax_id,
        &record.email,
        &record.phone,
        &record.industry,
    ];
    if texts.iter().any(|t| t.contains('\0'))
        || optional
            .iter()
            .flat_map(|t| t.as_deref())
            .any(|t| t.contains('\0'))
    {
        return Ok(Placement::Review(
            ReviewReason::Invalid,
            "the record contains a NUL character, which no database column takes".into(),
        ));
    }
    if record.external_id.trim().is_empty() || record.external_id.len() > 128 {
        return Ok(Placement::Review(
            ReviewReason::Invalid,
            "the external id is empty or longer than 128 characters".into(),
        ));
    }
    if let Some(tax_id) = record.tax_id.as_deref().and_then(normalize_tax_id) {
        let found = super::customers::find_by_tax_id(db, run.tenant_id, &tax_id).await?;
        match found.as_slice() {
            [one] => return Ok(Placement::Existing(*one, "tax_id")),
            [] => {}
            _ => {
                return Ok(Placement::Review(
                    ReviewReason::Ambiguous,
                    format!("several customers have the tax id {tax_id}"),
                ));
            }
        }
    }
    let rule = &run.settings.match_rule;
    let found = match_by_rule(db, run.tenant_id, rule, record).await?;
    Ok(match found.as_slice() {
        [one] => Placement::Existing(*one, rule.label()),
        [] if run.settings.unmatched == UnmatchedPolicy::Create => Placement::Create,
        [] => Placement::Review(
            ReviewReason::NoMatch,
            "no customer matches its tax id or the connector's rule".into(),
        ),
        _ => Placement::Review(
            ReviewReason::Ambiguous,
            format!("several customers match by {}", rule.label()),
        ),
    })
}

/// Customers matching the rule, at most two (one is a match, two are ambiguous).
async fn match_by_rule(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    rule: &MatchRule,
    record: &ExternalCustomer,
) -> StoreResult<Vec<Id>> {
    let by_contact = |condition: Expr| {
        contact::Entity::find()
            .select_only()
            .column(contact::Column::CustomerId)
            .distinct()
            .filter(contact::Column::TenantId.eq(tenant_id))
            .filter(condition)
            .limit(2)
            .into_tuple::<Id>()
    };
    let customers = || {
        customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::TenantId.eq(tenant_id))
            .limit(2)
    };
    match rule {
        MatchRule::None => Ok(Vec::new()),
        MatchRule::Email => match record.email.as_deref().map(str::trim) {
            Some(email) if !email.is_empty() => Ok(by_contact(
                Expr::expr(Func::lower(Expr::col(contact::Column::Email))).eq(email.to_lowercase()),
            )
            .all(db)
            .await?),
            _ => Ok(Vec::new()),
        },
        MatchRule::Phone => {
            let phone: String = record
                .phone
                .as_deref()
                .unwrap_or_default()
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect();
            if phone.len() < 5 {
                return Ok(Vec::new());
            }
            Ok(by_contact(Expr::col(contact::Column::Phone).eq(phone))
                .all(db)
                .await?)
        }
        MatchRule::Name => {
            let name = record.name.trim().to_lowercase();
            if name.is_empty() {
                return Ok(Vec::new());
            }
            Ok(customers()
                .filter(Expr::expr(Func::lower(Expr::col(customer::Column::Name))).eq(name))
                .into_tuple::<Id>()
                .all(db)
                .await?)
        }
        MatchRule::CustomField { key } => {
            // The key was checked to be letters, digits and '_' when the settings were saved.
            let path = match db.get_database_backend() {
                DbBackend::Postgres => format!("(custom_fields::jsonb ->> '{key}')"),
                _ => format!("json_extract(custom_fields, '$.{key}')"),
            };
            Ok(customers()
                .filter(Expr::cust(format!("CAST({path} AS TEXT)")).eq(record.external_id.clone()))
                .into_tuple::<Id>()
                .all(db)
                .await?)
        }
    }
}

/// Creates a CRM customer from an external one; the error says why the tenant's rules refuse
/// it (e.g. a required custom field), for the review queue.
async fn create_customer(
    db: &(impl ConnectionTrait + TransactionTrait),
    run: &StartedRun,
    record: &ExternalCustomer,
    code: Option<String>,
    owner_id: Option<Id>,
) -> StoreResult<Result<Id, String>> {
    let code = code.unwrap_or_else(|| customer_code(&run.source, &record.external_id));
    let input = CustomerInput {
        code,
        name: record.name.trim().chars().take(200).collect(),
        kind: if record.is_company {
            CustomerKind::Company
        } else {
            CustomerKind::Person
        },
        industry: record.industry.clone(),
        region: None,
        tax_id: record.tax_id.as_deref().and_then(normalize_tax_id),
        owner_id,
        stage: None,
        needs: None,
        tags: Vec::new(),
        custom_fields: None,
    };
    let tenant = super::tenants::get(db, run.tenant_id).await?;
    let fields = match input.validate(tenant.custom_field_schema.as_ref()) {
        Ok(fields) => fields,
        Err(errors) => return Ok(Err(errors.to_string())),
    };
    match super::customers::create(db, run.tenant_id, fields).await {
        Ok(customer) => Ok(Ok(customer.id)),
        Err(StoreError::Conflict { message, .. }) => Ok(Err(message)),
        Err(StoreError::NotFound(what)) => Ok(Err(format!("{what} not found"))),
        Err(error) => Err(error),
    }
}

/// Links an external customer to a CRM customer, resolves its review entry if it had one,
/// and imports the orders that were waiting for it.
async fn link_customer(
    db: &(impl ConnectionTrait + TransactionTrait),
    target: &PageTarget<'_>,
    record: &ExternalCustomer,
    customer_id: Id,
    matched_by: &str,
    review_status: ReviewStatus,
) -> StoreResult<()> {
    let run = target.run;
    sync_link::ActiveModel {
        tenant_id: Set(run.tenant_id),
        source: Set(run.source.clone()),
        external_id: Set(record.external_id.clone()),
        customer_id: Set(customer_id),
        matched_by: Set(matched_by.to_owned()),
        fingerprint: Set(customer_fingerprint(record)),
        created_at: Set(target.now),
        updated_at: Set(target.now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let status: &'static str = review_status.into();
    let pending: &'static str = ReviewStatus::Pending.into();
    let kind: &'static str = ReviewKind::Customer.into();
    sync_review::Entity::update_many()
        .col_expr(sync_review::Column::Status, Expr::value(status))
        .col_expr(sync_review::Column::CustomerId, Expr::value(customer_id))
        .col_expr(sync_review::Column::UpdatedAt, Expr::value(target.now))
        .filter(sync_review::Column::TenantId.eq(run.tenant_id))
        .filter(sync_review::Column::Source.eq(run.source.as_str()))
        .filter(sync_review::Column::Kind.eq(kind))
        .filter(sync_review::Column::ExternalId.eq(record.external_id.as_str()))
        .filter(sync_review::Column::Status.eq(pending))
        .exec(db)
        .await?;
    import_waiting_orders(db, target, &record.external_id, customer_id).await
}

/// Imports the orders queued because their customer was not linked yet.
async fn import_waiting_orders(
    db: &impl ConnectionTrait,
    target: &PageTarget<'_>,
    customer_external_id: &str,
    customer_id: Id,
) -> StoreResult<()> {
    let run = target.run;
    let pending: &'static str = ReviewStatus::Pending.into();
    let reason: &'static str = ReviewReason::CustomerUnmatched.into();
    let waiting = sync_review::Entity::find()
        .filter(sync_review::Column::TenantId.eq(run.tenant_id))
        .filter(sync_review::Column::Source.eq(run.source.as_str()))
        .filter(sync_review::Column::CustomerExternalId.eq(customer_external_id))
        .filter(sync_review::Column::Status.eq(pending))
        .filter(sync_review::Column::Reason.eq(reason))
        .all(db)
        .await?;
    let mut orders = Vec::new();
    let mut imported_ids = Vec::new();
    for row in &waiting {
        if let Ok(ExternalRecord::Order(order)) = serde_json::from_str(&row.record)
            && let Ok(mapped) = map_order(&order)
        {
            orders.push(mapped);
            imported_ids.push(row.id);
        }
    }
    let customers = HashMap::from([(customer_external_id.to_owned(), customer_id)]);
    upsert_orders(db, target, &orders, &customers).await?;
    let imported: &'static str = ReviewStatus::Imported.into();
    sync_review::Entity::update_many()
        .col_expr(sync_review::Column::Status, Expr::value(imported))
        .col_expr(sync_review::Column::CustomerId, Expr::value(customer_id))
        .col_expr(sync_review::Column::UpdatedAt, Expr::value(target.now))
        .filter(sync_review::Column::Id.is_in(imported_ids))
        .exec(db)
        .await?;
    Ok(())
}

/// A linked customer's record changed: keep its fingerprint and fill the CRM's empty fields.
async fn refresh_linked(
    db: &impl ConnectionTrait,
    target: &PageTarget<'_>,
    link: &sync_link::Model,
    record: &ExternalCustomer,
    fingerprint: &str,
) -> StoreResult<()> {
    sync_link::Entity::update_many()
        .col_expr(sync_link::Column::Fingerprint, Expr::value(fingerprint))
        .col_expr(sync_link::Column::UpdatedAt, Expr::value(target.now))
        .filter(sync_link::Column::Id.eq(link.id))
        .exec(db)
        .await?;
    // Only values the CRM itself would accept: a later edit of the customer re-validates them.
    let fills = [
        (
            customer::Column::TaxId,
            record
                .tax_id
                .as_deref()
                .and_then(normalize_tax_id)
                .filter(|tax_id| {
                    crate::domain::customer::TAX_ID_CHARS.contains(&tax_id.len())
                        && tax_id.chars().all(|c| c.is_ascii_alphanumeric())
                }),
        ),
        (
            customer::Column::Industry,
            record
                .industry
                .as_deref()
                .map(str::trim)
                .filter(|industry| !industry.is_empty() && industry.chars().count() <= 100)
                .map(str::to_owned),
        ),
    ];
    for (column, value) in fills {
        let Some(value) = value else { continue };
        customer::Entity::update_many()
            .col_expr(column, Expr::value(value))
            .col_expr(customer::Column::UpdatedAt, Expr::value(target.now))
            .filter(customer::Column::Id.eq(link.customer_id))
            .filter(customer::Column::TenantId.eq(target.run.tenant_id))
            .filter(column.is_null())
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Puts a record in the review queue, or refreshes its entry: read again, it is one entry,
/// pending again unless it was dismissed and is unchanged.
async fn queue_review(
    db: &impl ConnectionTrait,
    target: &PageTarget<'_>,
    record: &ExternalRecord,
    reason: ReviewReason,
    detail: &str,
) -> StoreResult<()> {
    let run = target.run;
    let (kind, external_id, customer_external_id) = match record {
        ExternalRecord::Customer(c) => (ReviewKind::Customer, &c.external_id, None),
        ExternalRecord::Order(o) => (
            ReviewKind::Order,
            &o.external_id,
            Some(o.customer_external_id.clone()),
        ),
    };
    let kind: &'static str = kind.into();
    let reason: &'static str = reason.into();
    let pending: &'static str = ReviewStatus::Pending.into();
    let text = serde_json::to_string(record).expect("records serialise");
    // PostgreSQL text takes no NUL; the record itself keeps it, escaped in its JSON.
    let external_id = &external_id.replace('\0', "\u{FFFD}");
    let customer_external_id = customer_external_id.map(|id| id.replace('\0', "\u{FFFD}"));
    let existing = sync_review::Entity::find()
        .filter(sync_review::Column::TenantId.eq(run.tenant_id))
        .filter(sync_review::Column::Source.eq(run.source.as_str()))
        .filter(sync_review::Column::Kind.eq(kind))
        .filter(sync_review::Column::ExternalId.eq(external_id.as_str()))
        .one(db)
        .await?;
    let dismissed: &'static str = ReviewStatus::Dismissed.into();
    let mut row = match existing {
        Some(row) if row.status == dismissed && same_content(&row.record, &text) => return Ok(()),
        Some(row) => sync_review::ActiveModel::from(row),
        None => sync_review::ActiveModel {
            tenant_id: Set(run.tenant_id),
            source: Set(run.source.clone()),
            kind: Set(kind.to_owned()),
            external_id: Set(external_id.clone()),
            created_at: Set(target.now),
            ..Default::default()
        },
    };
    row.connector_id = Set(run.connector_id);
    row.customer_external_id = Set(customer_external_id);
    row.record = Set(text);
    row.reason = Set(reason.to_owned());
    row.detail = Set(detail.chars().take(1000).collect());
    row.status = Set(pending.to_owned());
    row.customer_id = Set(None);
    row.resolved_by = Set(None);
    row.updated_at = Set(target.now);
    row.save(db).await?;
    Ok(())
}

/// Whether two stored records say the same once the ERP's modification time is left out: a
/// record only touched in the ERP does not bring a dismissed entry back.
fn same_content(stored: &str, read: &str) -> bool {
    let strip = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .map(|mut value| {
                if let Some(object) = value.as_object_mut() {
                    object.remove("modified_at");
                }
                value
            })
    };
    matches!((strip(stored), strip(read)), (Some(a), Some(b)) if a == b)
}

// ---- importing orders ----------------------------------------------------------------------

/// Imports a page of external orders: each is inserted or updated on (source, external id),
/// or queued for review when it is invalid or its customer is not linked. The customers whose
/// orders changed are asked to be re-tiered.
pub async fn apply_orders(
    db: &impl ConnectionTrait,
    target: &PageTarget<'_>,
    records: Vec<ExternalOrder>,
) -> StoreResult<StreamCounts> {
    let run = target.run;
    let mut counts = StreamCounts {
        pages: 1,
        records_read: records.len() as i64,
        ..Default::default()
    };
    let records = last_of_each(records, |o| o.external_id.clone());
    let mut mapped = Vec::with_capacity(records.len());
    let mut unplaced = Vec::new();
    for record in records {
        match map_order(&record) {
            Ok(order) => mapped.push((record, order)),
            Err(detail) => unplaced.push((record, ReviewReason::Invalid, detail)),
        }
    }
    let customer_ids: Vec<&str> = mapped
        .iter()
        .map(|(_, order)| order.customer_external_id.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let customers: HashMap<String, Id> = links_of(db, run.tenant_id, &run.source, &customer_ids)
        .await?
        .into_iter()
        .map(|(external_id, link)| (external_id, link.customer_id))
        .collect();
    let mut placed = Vec::with_capacity(mapped.len());
    for (record, order) in mapped {
        if customers.contains_key(&order.customer_external_id) {
            placed.push(order);
        } else {
            let detail = format!(
                "its customer {} is not linked to a CRM customer yet",
                order.customer_external_id
            );
            unplaced.push((record, ReviewReason::CustomerUnmatched, detail));
        }
    }
    let upserted = upsert_orders(db, target, &placed, &customers).await?;
    counts.inserted = upserted.inserted;
    counts.updated = upserted.updated;
    counts.unchanged = upserted.unchanged;
    counts.unmatched = unplaced.len() as i64;
    for (record, reason, detail) in unplaced {
        queue_review(db, target, &ExternalRecord::Order(record), reason, &detail).await?;
    }
    resolve_imported_reviews(db, target, &placed).await?;
    Ok(counts)
}

struct Upserted {
    inserted: i64,
    updated: i64,
    unchanged: i64,
}

async fn upsert_orders(
    db: &impl ConnectionTrait,
    target: &PageTarget<'_>,
    orders: &[MappedOrder],
    customers: &HashMap<String, Id>,
) -> StoreResult<Upserted> {
    let run = target.run;
    let ids: Vec<&str> = orders.iter().map(|o| o.external_id.as_str()).collect();
    let mut stored: HashMap<String, order::Model> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for row in order::Entity::find()
            .filter(order::Column::TenantId.eq(run.tenant_id))
            .filter(order::Column::Source.eq(run.source.as_str()))
            .filter(order::Column::ExternalId.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            stored.insert(row.external_id.clone(), row);
        }
    }
    let mut result = Upserted {
        inserted: 0,
        updated: 0,
        unchanged: 0,
    };
    let mut new_rows: Vec<NewOrder> = Vec::new();
    let mut touched: HashSet<Id> = HashSet::new();
    for order in orders {
        let customer_id = customers[&order.customer_external_id];
        let status: &'static str = order.status.into();
        let units = order.amount.storage_units();
        match stored.get(&order.external_id) {
            Some(row)
                if row.customer_id == customer_id
                    && row.amount_e4 == units
                    && row.currency == order.amount.currency
                    && row.ordered_at == order.ordered_at
                    && row.status == status =>
            {
                result.unchanged += 1;
            }
            Some(row) => {
                touched.insert(row.customer_id);
                touched.insert(customer_id);
                order::Entity::update_many()
                    .col_expr(order::Column::CustomerId, Expr::value(customer_id))
                    .col_expr(order::Column::AmountE4, Expr::value(units))
                    .col_expr(
                        order::Column::Currency,
                        Expr::value(order.amount.currency.clone()),
                    )
                    .col_expr(order::Column::OrderedAt, Expr::value(order.ordered_at))
                    .col_expr(order::Column::Status, Expr::value(status))
                    .col_expr(order::Column::UpdatedAt, Expr::value(target.now))
                    .filter(order::Column::Id.eq(row.id))
                    .exec(db)
                    .await?;
                result.updated += 1;
            }
            None => {
                touched.insert(customer_id);
                new_rows.push(NewOrder {
                    customer_id,
                    order,
                    units,
                    status,
                });
                result.inserted += 1;
            }
        }
    }
    for chunk in new_rows.chunks(CHUNK) {
        insert_orders(db, target, chunk).await?;
    }
    request_retiers(db, run.tenant_id, touched, target.retier_at).await?;
    Ok(result)
}

struct NewOrder<'a> {
    customer_id: Id,
    order: &'a MappedOrder,
    units: i64,
    status: &'static str,
}

/// One multi-row `INSERT` of new orders (see `bulk`).
async fn insert_orders(
    db: &impl ConnectionTrait,
    target: &PageTarget<'_>,
    rows: &[NewOrder<'_>],
) -> StoreResult<()> {
    const COLUMNS: [&str; 10] = [
        "tenant_id",
        "customer_id",
        "source",
        "external_id",
        "amount_e4",
        "currency",
        "ordered_at",
        "status",
        "created_at",
        "updated_at",
    ];
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * COLUMNS.len());
    for row in rows {
        values.extend([
            target.run.tenant_id.into(),
            row.customer_id.into(),
            target.run.source.clone().into(),
            row.order.external_id.clone().into(),
            row.units.into(),
            row.order.amount.currency.clone().into(),
            row.order.ordered_at.into(),
            row.status.into(),
            target.now.into(),
            target.now.into(),
        ]);
    }
    super::bulk::insert_rows(db, "orders", &COLUMNS, values).await
}

/// One debounced re-tier request per customer, as `tiering::request_retier` makes them, a
/// chunk per statement.
async fn request_retiers(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customers: HashSet<Id>,
    due_at: DateTime<Utc>,
) -> StoreResult<()> {
    let mut customers: Vec<Id> = customers.into_iter().collect();
    customers.sort_unstable();
    for chunk in customers.chunks(CHUNK) {
        let rows = chunk.iter().map(|customer_id| tier_request::ActiveModel {
            tenant_id: Set(tenant_id),
            customer_id: Set(*customer_id),
            due_at: Set(due_at),
            ..Default::default()
        });
        tier_request::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    tier_request::Column::TenantId,
                    tier_request::Column::CustomerId,
                ])
                .update_column(tier_request::Column::DueAt)
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Orders now imported that were waiting in the review queue leave it.
async fn resolve_imported_reviews(
    db: &impl ConnectionTrait,
    target: &PageTarget<'_>,
    placed: &[MappedOrder],
) -> StoreResult<()> {
    let run = target.run;
    let pending: &'static str = ReviewStatus::Pending.into();
    let kind: &'static str = ReviewKind::Order.into();
    let queued = sync_review::Entity::find()
        .filter(sync_review::Column::TenantId.eq(run.tenant_id))
        .filter(sync_review::Column::Status.eq(pending))
        .filter(sync_review::Column::Source.eq(run.source.as_str()))
        .filter(sync_review::Column::Kind.eq(kind))
        .limit(1)
        .count(db)
        .await?;
    if queued == 0 || placed.is_empty() {
        return Ok(());
    }
    let imported: &'static str = ReviewStatus::Imported.into();
    for chunk in placed.chunks(CHUNK) {
        sync_review::Entity::update_many()
            .col_expr(sync_review::Column::Status, Expr::value(imported))
            .col_expr(sync_review::Column::UpdatedAt, Expr::value(target.now))
            .filter(sync_review::Column::TenantId.eq(run.tenant_id))
            .filter(sync_review::Column::Source.eq(run.source.as_str()))
            .filter(sync_review::Column::Kind.eq(kind))
            .filter(sync_review::Column::Status.eq(pending))
            .filter(
                sync_review::Column::ExternalId
                    .is_in(chunk.iter().map(|order| order.external_id.as_str())),
            )
            .exec(db)
            .await?;
    }
    Ok(())
}

// ---- run history ---------------------------------------------------------------------------

fn run_error(code: Option<String>, message: Option<String>) -> Option<RunError> {
    code.map(|code| RunError {
        code,
        message: message.unwrap_or_default(),
    })
}

fn duration_ms(started: DateTime<Utc>, finished: Option<DateTime<Utc>>) -> Option<i64> {
    finished.map(|finished| (finished - started).num_milliseconds())
}

fn stream_run(s: sync_run_stream::Model) -> StoreResult<StreamRun> {
    Ok(StreamRun {
        outcome: parse_column("sync_run_streams.outcome", &s.outcome)?,
        counts: StreamCounts {
            pages: s.pages,
            records_read: s.records_read,
            inserted: s.inserted,
            updated: s.updated,
            unchanged: s.unchanged,
            unmatched: s.unmatched,
        },
        error: run_error(s.error_code, s.error_message),
        duration_ms: duration_ms(s.started_at, s.finished_at),
        stream: s.stream,
        started_at: s.started_at,
        finished_at: s.finished_at,
    })
}

/// The runs with their streams, read in one query for all of them.
async fn run_views(
    db: &impl ConnectionTrait,
    rows: Vec<sync_run::Model>,
) -> StoreResult<Vec<SyncRun>> {
    let mut streams: HashMap<Id, Vec<StreamRun>> = HashMap::new();
    if !rows.is_empty() {
        for s in sync_run_stream::Entity::find()
            .filter(sync_run_stream::Column::RunId.is_in(rows.iter().map(|row| row.id)))
            .order_by_asc(sync_run_stream::Column::Id)
            .all(db)
            .await?
        {
            streams.entry(s.run_id).or_default().push(stream_run(s)?);
        }
    }
    rows.into_iter()
        .map(|row| {
            let streams = streams.remove(&row.id).unwrap_or_default();
            run_view(row, streams)
        })
        .collect()
}

fn run_view(row: sync_run::Model, streams: Vec<StreamRun>) -> StoreResult<SyncRun> {
    Ok(SyncRun {
        trigger: parse_column("sync_runs.trigger", &row.trigger)?,
        outcome: parse_column("sync_runs.outcome", &row.outcome)?,
        error: run_error(row.error_code, row.error_message),
        duration_ms: duration_ms(row.started_at, row.finished_at),
        id: row.id,
        plugin_id: row.plugin_id,
        run_by: row.run_by,
        retries: row.retries,
        started_at: row.started_at,
        finished_at: row.finished_at,
        streams,
    })
}

pub async fn get_run(db: &impl ConnectionTrait, tenant_id: Id, run_id: Id) -> StoreResult<SyncRun> {
    let row = sync_run::Entity::find_by_id(run_id)
        .filter(sync_run::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("sync run"))?;
    let mut runs = run_views(db, vec![row]).await?;
    Ok(runs.remove(0))
}

/// The tenant's runs, newest first, optionally of one connector, before run id `before`.
pub async fn list_runs(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    plugin_id: Option<&str>,
    before: Option<Id>,
    limit: u64,
) -> StoreResult<Vec<SyncRun>> {
    let mut query = sync_run::Entity::find().filter(sync_run::Column::TenantId.eq(tenant_id));
    if let Some(plugin_id) = plugin_id {
        query = query.filter(sync_run::Column::PluginId.eq(plugin_id));
    }
    if let Some(before) = before {
        query = query.filter(sync_run::Column::Id.lt(before));
    }
    let rows = query
        .order_by_desc(sync_run::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    run_views(db, rows).await
}

// ---- the review queue ----------------------------------------------------------------------

fn review_view(row: sync_review::Model, plugin_id: &str) -> StoreResult<ReviewItem> {
    Ok(ReviewItem {
        kind: parse_column("sync_reviews.kind", &row.kind)?,
        reason: parse_column("sync_reviews.reason", &row.reason)?,
        status: parse_column("sync_reviews.status", &row.status)?,
        record: serde_json::from_str(&row.record)
            .map_err(|error| StoreError::Corrupt(format!("sync_reviews.record: {error}")))?,
        plugin_id: plugin_id.to_owned(),
        id: row.id,
        source: row.source,
        external_id: row.external_id,
        customer_external_id: row.customer_external_id,
        detail: row.detail,
        customer_id: row.customer_id,
        resolved_by: row.resolved_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

async fn plugin_ids(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<HashMap<Id, String>> {
    Ok(sync_connector::Entity::find()
        .filter(sync_connector::Column::TenantId.eq(tenant_id))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.id, row.plugin_id))
        .collect())
}

/// The review queue, oldest first after review id `after`.
pub async fn list_reviews(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    status: Option<ReviewStatus>,
    kind: Option<ReviewKind>,
    after: Option<Id>,
    limit: u64,
) -> StoreResult<Vec<ReviewItem>> {
    let mut query = sync_review::Entity::find().filter(sync_review::Column::TenantId.eq(tenant_id));
    if let Some(status) = status {
        let status: &'static str = status.into();
        query = query.filter(sync_review::Column::Status.eq(status));
    }
    if let Some(kind) = kind {
        let kind: &'static str = kind.into();
        query = query.filter(sync_review::Column::Kind.eq(kind));
    }
    if let Some(after) = after {
        query = query.filter(sync_review::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(sync_review::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let plugins = plugin_ids(db, tenant_id).await?;
    rows.into_iter()
        .map(|row| {
            let plugin = plugins.get(&row.connector_id).cloned().unwrap_or_default();
            review_view(row, &plugin)
        })
        .collect()
}

pub async fn get_review(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    review_id: Id,
) -> StoreResult<ReviewItem> {
    let row = review_row(db, tenant_id, review_id).await?;
    let plugins = plugin_ids(db, tenant_id).await?;
    let plugin = plugins.get(&row.connector_id).cloned().unwrap_or_default();
    review_view(row, &plugin)
}

async fn review_row(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    review_id: Id,
) -> StoreResult<sync_review::Model> {
    sync_review::Entity::find_by_id(review_id)
        .filter(sync_review::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("review item"))
}

/// Resolves a pending review entry, in the caller's transaction. A customer is linked to an
/// existing customer, created, or dismissed; its waiting orders are imported with the link. An
/// order can only be dismissed: it is imported by linking its customer.
pub async fn resolve_review(
    db: &(impl ConnectionTrait + TransactionTrait),
    tenant_id: Id,
    review_id: Id,
    resolution: ReviewResolution,
    actor: Id,
) -> StoreResult<ReviewItem> {
    let row = review_row(db, tenant_id, review_id).await?;
    let now = Utc::now();
    // Taking the connector's row first orders this against a page import of the same
    // connector on PostgreSQL (SQLite writers are serial anyway): otherwise a page could queue an
    // order for a customer this resolution links, after it looked for waiting orders.
    sync_connector::Entity::update_many()
        .col_expr(sync_connector::Column::UpdatedAt, Expr::value(now))
        .filter(sync_connector::Column::Id.eq(row.connector_id))
        .exec(db)
        .await?;
    // Claimed conditionally, so that of two concurrent resolutions exactly one goes on; the
    // final status is set below, in the same transaction.
    let claimed_status: &'static str = ReviewStatus::Dismissed.into();
    let pending: &'static str = ReviewStatus::Pending.into();
    let claimed = sync_review::Entity::update_many()
        .col_expr(sync_review::Column::Status, Expr::value(claimed_status))
        .filter(sync_review::Column::Id.eq(row.id))
        .filter(sync_review::Column::Status.eq(pending))
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(StoreError::Conflict {
            code: "review_resolved",
            message: format!("this review item is already {}", row.status),
        });
    }
    let connector = sync_connector::Entity::find_by_id(row.connector_id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("sync connector"))?;
    let record: ExternalRecord = serde_json::from_str(&row.record)
        .map_err(|error| StoreError::Corrupt(format!("sync_reviews.record: {error}")))?;
    let run = StartedRun {
        run_id: 0,
        lease_owner: String::new(),
        connector_id: connector.id,
        tenant_id,
        settings: settings_of(&connector)?,
        plugin_id: connector.plugin_id.clone(),
        source: connector.source.clone(),
    };
    let target = PageTarget {
        run: &run,
        run_stream_id: 0,
        stream: "",
        lease_until: now,
        now,
        retier_at: now + chrono::Duration::seconds(60),
    };
    let (status, customer_id) = match (resolution, &record) {
        (ReviewResolution::Dismiss, _) => (ReviewStatus::Dismissed, None),
        (ReviewResolution::Link { customer_id }, ExternalRecord::Customer(customer)) => {
            super::customers::ensure_exists(db, tenant_id, customer_id).await?;
            link_external(db, &target, customer, customer_id, "review").await?;
            (ReviewStatus::Linked, Some(customer_id))
        }
        (ReviewResolution::Create { code, owner_id }, ExternalRecord::Customer(customer)) => {
            let customer_id = create_customer(db, &run, customer, code, owner_id)
                .await?
                .map_err(|message| StoreError::Conflict {
                    code: "customer_not_created",
                    message,
                })?;
            link_external(db, &target, customer, customer_id, "created").await?;
            (ReviewStatus::Created, Some(customer_id))
        }
        (_, ExternalRecord::Order(_)) => {
            return Err(StoreError::Conflict {
                code: "review_order_waits_for_customer",
                message: "an order is imported by linking its customer; it can only be dismissed"
                    .into(),
            });
        }
    };
    let status_text: &'static str = status.into();
    // The row read above; every column this sets is set explicitly.
    let mut active = sync_review::ActiveModel::from(row);
    active.status = Set(status_text.to_owned());
    active.customer_id = Set(customer_id);
    active.resolved_by = Set(Some(actor));
    active.updated_at = Set(now);
    active.update(db).await?;
    get_review(db, tenant_id, review_id).await
}

/// A reviewer's link: refused when the external customer is linked already.
async fn link_external(
    db: &(impl ConnectionTrait + TransactionTrait),
    target: &PageTarget<'_>,
    customer: &ExternalCustomer,
    customer_id: Id,
    matched_by: &str,
) -> StoreResult<()> {
    let ids = [customer.external_id.as_str()];
    if !links_of(db, target.run.tenant_id, &target.run.source, &ids)
        .await?
        .is_empty()
    {
        return Err(StoreError::Conflict {
            code: "already_linked",
            message: "this external customer is linked already".into(),
        });
    }
    let status = if matched_by == "created" {
        ReviewStatus::Created
    } else {
        ReviewStatus::Linked
    };
    link_customer(db, target, customer, customer_id, matched_by, status).await
}
