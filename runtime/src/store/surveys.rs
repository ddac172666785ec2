//! Surveys in the store: template versions, the tenant's survey settings, opt-outs, campaigns,
//! deliveries (queued with their one-use token, claimed by the worker under a lease, moved
//! through their states) and responses (exactly one per delivery, into the satisfaction history,
//! a recovery ticket on a low score).

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore as _;
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::entity::{
    contact, customer, customer_tag, survey_campaign, survey_delivery, survey_opt_out,
    survey_response, survey_setting, survey_template, user,
};
use super::tasks::{self, Origin};
use super::{StoreError, StoreResult, customers, events, parse_column, satisfaction, tickets};
use crate::domain::access::Visibility;
use crate::domain::satisfaction::{SatisfactionFields, SatisfactionKind};
use crate::domain::survey::{
    Answer, Audience, Campaign, CampaignReport, DeliveryCause, DeliveryState, NewCampaign,
    NewTemplate, PublicSurvey, SurveyDelivery, SurveyResponse, SurveySettings, SurveyTemplate,
    default_templates,
};
use crate::domain::survey_delivery::{Delivery, Recipient};
use crate::domain::survey_kpi::{KpiDelivery, KpiGroups, KpiResponse};
use crate::domain::task::{TaskFields, TaskPriority, TaskStatus};
use crate::domain::ticket::{NewTicket, TicketPriority, TicketType};
use crate::domain::{Id, ValidationErrors};

fn corrupt(column: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{column}: {error}"))
}

fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("survey values serialize")
}

// Templates

fn template_to_domain(row: survey_template::Model) -> StoreResult<SurveyTemplate> {
    Ok(SurveyTemplate {
        kind: parse_column("survey_templates.kind", &row.kind)?,
        texts: serde_json::from_str(&row.texts)
            .map_err(|e| corrupt("survey_templates.texts", e))?,
        dimensions: serde_json::from_str(&row.dimensions)
            .map_err(|e| corrupt("survey_templates.dimensions", e))?,
        id: row.id,
        key: row.key,
        version: row.version,
        name: row.name,
        created_at: row.created_at,
    })
}

/// Stores `new` as the next version of its key (version 1 for a new key).
pub async fn save_template(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    new: NewTemplate,
    created_by: Option<Id>,
) -> StoreResult<SurveyTemplate> {
    let latest = latest_row(db, tenant_id, &new.key).await?;
    let kind: &str = new.kind.into();
    if let Some(latest) = &latest
        && latest.kind != kind
    {
        return Err(StoreError::Invalid(ValidationErrors::single(
            "kind",
            "kind_changed",
            format!(
                "{} is a {} survey; use a new key for another kind",
                new.key, latest.kind
            ),
        )));
    }
    let row = survey_template::ActiveModel {
        tenant_id: Set(tenant_id),
        key: Set(new.key),
        version: Set(latest.map_or(1, |row| row.version + 1)),
        name: Set(new.name),
        kind: Set(kind.to_owned()),
        texts: Set(json_text(&new.texts)),
        dimensions: Set(json_text(&new.dimensions)),
        created_by: Set(created_by),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|error| {
        StoreError::conflict_on_unique(
            error,
            "template_changed",
            "another version was saved meanwhile; retry",
        )
    })?;
    template_to_domain(row)
}

async fn latest_row(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    key: &str,
) -> StoreResult<Option<survey_template::Model>> {
    Ok(survey_template::Entity::find()
        .filter(survey_template::Column::TenantId.eq(tenant_id))
        .filter(survey_template::Column::Key.eq(key))
        .order_by_desc(survey_template::Column::Version)
        .one(db)
        .await?)
}

/// The current version of a template.
pub async fn template(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    key: &str,
) -> StoreResult<SurveyTemplate> {
    template_to_domain(
        latest_row(db, tenant_id, key)
            .await?
            .ok_or(StoreError::NotFound("survey template"))?,
    )
}

/// Every version of a template, newest first.
pub async fn template_versions(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    key: &str,
) -> StoreResult<Vec<SurveyTemplate>> {
    let rows = survey_template::Entity::find()
        .filter(survey_template::Column::TenantId.eq(tenant_id))
        .filter(survey_template::Column::Key.eq(key))
        .order_by_desc(survey_template::Column::Version)
        .all(db)
        .await?;
    if rows.is_empty() {
        return Err(StoreError::NotFound("survey template"));
    }
    rows.into_iter().map(template_to_domain).collect()
}

/// The current version of each template, by key.
pub async fn templates(
    db: &impl ConnectionTrait,
    tenant_id: Id,
) -> StoreResult<Vec<SurveyTemplate>> {
    let rows = survey_template::Entity::find()
        .filter(survey_template::Column::TenantId.eq(tenant_id))
        .order_by_asc(survey_template::Column::Key)
        .order_by_desc(survey_template::Column::Version)
        .all(db)
        .await?;
    let mut seen = HashSet::new();
    rows.into_iter()
        .filter(|row| seen.insert(row.key.clone()))
        .map(template_to_domain)
        .collect()
}

async fn template_by_id(db: &impl ConnectionTrait, id: Id) -> StoreResult<SurveyTemplate> {
    template_to_domain(
        survey_template::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or(StoreError::NotFound("survey template"))?,
    )
}

/// Installs the built-in templates a tenant lacks.
pub async fn install_default_templates(
    db: &impl ConnectionTrait,
    tenant_id: Id,
) -> StoreResult<()> {
    for new in default_templates() {
        if latest_row(db, tenant_id, &new.key).await?.is_none() {
            save_template(db, tenant_id, new, None).await?;
        }
    }
    Ok(())
}

pub async fn install_default_templates_everywhere(db: &impl ConnectionTrait) -> StoreResult<()> {
    for tenant_id in super::tenants::customer_tenant_ids(db).await? {
        install_default_templates(db, tenant_id).await?;
    }
    Ok(())
}

// Settings and opt-outs

pub async fn settings(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<SurveySettings> {
    match survey_setting::Entity::find_by_id(tenant_id)
        .one(db)
        .await?
    {
        Some(row) => {
            serde_json::from_str(&row.settings).map_err(|e| corrupt("survey_settings.settings", e))
        }
        None => Ok(SurveySettings::default()),
    }
}

pub async fn save_settings(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    settings: &SurveySettings,
) -> StoreResult<()> {
    if let Some(trigger) = &settings.after_ticket_resolved {
        template(db, tenant_id, &trigger.template_key)
            .await
            .map_err(|_| unknown_template("after_ticket_resolved.template_key"))?;
    }
    let row = survey_setting::ActiveModel {
        tenant_id: Set(tenant_id),
        settings: Set(json_text(settings)),
        updated_at: Set(Utc::now()),
    };
    survey_setting::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(survey_setting::Column::TenantId)
                .update_columns([
                    survey_setting::Column::Settings,
                    survey_setting::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

fn unknown_template(field: &str) -> StoreError {
    StoreError::Invalid(ValidationErrors::single(
        field,
        "unknown_template",
        "no survey template has this key",
    ))
}

/// Records that a contact wants no more surveys (idempotent).
pub async fn opt_out(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    contact_id: Id,
    source: &str,
) -> StoreResult<()> {
    let row = survey_opt_out::ActiveModel {
        tenant_id: Set(tenant_id),
        contact_id: Set(contact_id),
        source: Set(source.to_owned()),
        created_at: Set(Utc::now()),
    };
    if !is_opted_out(db, tenant_id, contact_id).await? {
        match row.insert(db).await {
            Ok(_) => {}
            // A concurrent opt-out of the same contact got there first.
            Err(error)
                if matches!(
                    error.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) => {}
            Err(error) => return Err(error.into()),
        }
    }
    // Nothing more goes out: queued surveys are dropped, sent ones get no reminder.
    let contact = survey_delivery::Column::ContactId.eq(contact_id);
    survey_delivery::Entity::update_many()
        .col_expr(survey_delivery::Column::State, "failed".into())
        .col_expr(
            survey_delivery::Column::LastError,
            Some("the contact opted out").into(),
        )
        .col_expr(
            survey_delivery::Column::NextCheckAt,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(survey_delivery::Column::TenantId.eq(tenant_id))
        .filter(contact.clone())
        .filter(survey_delivery::Column::State.eq("queued"))
        .exec(db)
        .await?;
    survey_delivery::Entity::update_many()
        .col_expr(
            survey_delivery::Column::NextCheckAt,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(survey_delivery::Column::TenantId.eq(tenant_id))
        .filter(contact)
        .filter(survey_delivery::Column::State.eq("sent"))
        .exec(db)
        .await?;
    Ok(())
}

/// Lets a contact receive surveys again.
pub async fn opt_in(db: &impl ConnectionTrait, tenant_id: Id, contact_id: Id) -> StoreResult<()> {
    survey_opt_out::Entity::delete_many()
        .filter(survey_opt_out::Column::TenantId.eq(tenant_id))
        .filter(survey_opt_out::Column::ContactId.eq(contact_id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn is_opted_out(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    contact_id: Id,
) -> StoreResult<bool> {
    Ok(survey_opt_out::Entity::find_by_id((tenant_id, contact_id))
        .one(db)
        .await?
        .is_some())
}

// Deliveries

fn delivery_to_domain(
    row: survey_delivery::Model,
    template: &SurveyTemplate,
) -> StoreResult<SurveyDelivery> {
    Ok(SurveyDelivery {
        id: row.id,
        template_id: row.template_id,
        template_key: template.key.clone(),
        kind: template.kind,
        cause: parse_column("survey_deliveries.cause", &row.cause)?,
        state: parse_column("survey_deliveries.state", &row.state)?,
        channel: row.channel,
        customer_id: row.customer_id,
        contact_id: row.contact_id,
        ticket_id: row.ticket_id,
        campaign_id: row.campaign_id,
        locale: row.locale,
        attempts: row.attempts,
        last_error: row.last_error,
        external_id: row.external_id,
        send_after: row.send_after,
        sent_at: row.sent_at,
        reminded_at: row.reminded_at,
        answered_at: row.answered_at,
        expires_at: row.expires_at,
        created_at: row.created_at,
    })
}

fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A survey to queue for one customer.
#[derive(Debug, Clone)]
pub struct Enqueue<'a> {
    pub template: &'a SurveyTemplate,
    pub channel: &'a str,
    pub customer_id: Id,
    /// The customer's primary contact (else its first) when `None`.
    pub contact_id: Option<Id>,
    pub ticket_id: Option<Id>,
    pub campaign_id: Option<Id>,
    pub cause: DeliveryCause,
    pub send_after: DateTime<Utc>,
}

/// Why a survey was or was not queued.
#[derive(Debug, Clone, PartialEq)]
pub enum Enqueued {
    Queued(Box<SurveyDelivery>),
    Throttled,
    OptedOut,
    NoContact,
}

async fn survey_contact(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_id: Id,
    contact_id: Option<Id>,
) -> StoreResult<Option<contact::Model>> {
    let mut query = contact::Entity::find()
        .filter(contact::Column::TenantId.eq(tenant_id))
        .filter(contact::Column::CustomerId.eq(customer_id));
    if let Some(contact_id) = contact_id {
        query = query.filter(contact::Column::Id.eq(contact_id));
    }
    Ok(query
        .order_by_desc(contact::Column::IsPrimary)
        .order_by_asc(contact::Column::Id)
        .one(db)
        .await?)
}

/// Queues a survey unless the contact opted out or had one within the throttle window.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    request: Enqueue<'_>,
    settings: &SurveySettings,
    now: DateTime<Utc>,
) -> StoreResult<Enqueued> {
    let Some(contact) =
        survey_contact(db, tenant_id, request.customer_id, request.contact_id).await?
    else {
        return Ok(Enqueued::NoContact);
    };
    if is_opted_out(db, tenant_id, contact.id).await? {
        return Ok(Enqueued::OptedOut);
    }
    if settings.throttle_days > 0
        && surveyed_since(db, tenant_id, contact.id, settings, now).await?
    {
        return Ok(Enqueued::Throttled);
    }
    let queued: &str = DeliveryState::Queued.into();
    let cause: &str = request.cause.into();
    let send_after = request.send_after.max(now);
    let row = survey_delivery::ActiveModel {
        tenant_id: Set(tenant_id),
        template_id: Set(request.template.id),
        customer_id: Set(request.customer_id),
        contact_id: Set(contact.id),
        ticket_id: Set(request.ticket_id),
        campaign_id: Set(request.campaign_id),
        cause: Set(cause.to_owned()),
        channel: Set(request.channel.to_owned()),
        locale: Set(settings.default_locale.clone()),
        token: Set(new_token()),
        state: Set(queued.to_owned()),
        attempts: Set(0),
        send_after: Set(send_after),
        next_check_at: Set(Some(send_after)),
        expires_at: Set(send_after + Duration::days(settings.expire_after_days.into())),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(Enqueued::Queued(Box::new(delivery_to_domain(
        row,
        request.template,
    )?)))
}

/// Whether the contact got a survey (not a failed one) within the throttle window.
async fn surveyed_since(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    contact_id: Id,
    settings: &SurveySettings,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let window_start = now - Duration::days(settings.throttle_days.into());
    let failed: &str = DeliveryState::Failed.into();
    Ok(survey_delivery::Entity::find()
        .filter(survey_delivery::Column::TenantId.eq(tenant_id))
        .filter(survey_delivery::Column::ContactId.eq(contact_id))
        .filter(survey_delivery::Column::CreatedAt.gt(window_start))
        .filter(survey_delivery::Column::State.ne(failed))
        .one(db)
        .await?
        .is_some())
}

/// Queues the tenant's after-resolution survey for a resolved ticket, when one is configured.
pub async fn after_ticket_resolved(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    ticket_id: Id,
    now: DateTime<Utc>,
) -> StoreResult<Option<Enqueued>> {
    let settings = settings(db, tenant_id).await?;
    let Some(trigger) = &settings.after_ticket_resolved else {
        return Ok(None);
    };
    let ticket = tickets::get(db, tenant_id, ticket_id, Visibility::All).await?;
    let template = template(db, tenant_id, &trigger.template_key).await?;
    let request = Enqueue {
        template: &template,
        channel: &trigger.channel,
        customer_id: ticket.customer_id,
        contact_id: ticket.contact_id,
        ticket_id: Some(ticket.id),
        campaign_id: None,
        cause: DeliveryCause::TicketResolved,
        send_after: now + Duration::minutes(trigger.delay_minutes.into()),
    };
    Ok(Some(enqueue(db, tenant_id, request, &settings, now).await?))
}

pub async fn delivery(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
) -> StoreResult<SurveyDelivery> {
    let row = survey_delivery::Entity::find_by_id(id)
        .filter(survey_delivery::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("survey delivery"))?;
    let template = template_by_id(db, row.template_id).await?;
    delivery_to_domain(row, &template)
}

/// Filters of the delivery list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub customer_id: Option<Id>,
    pub campaign_id: Option<Id>,
    pub ticket_id: Option<Id>,
    pub state: Option<DeliveryState>,
}

/// The newest deliveries matching `filter`, within the caller's customers, at most `limit`.
pub async fn deliveries(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    visibility: Visibility,
    filter: &DeliveryFilter,
    limit: u64,
) -> StoreResult<Vec<SurveyDelivery>> {
    let mut query = survey_delivery::Entity::find()
        .filter(survey_delivery::Column::TenantId.eq(tenant_id))
        .filter(
            survey_delivery::Column::CustomerId
                .in_subquery(visible_customers(tenant_id, visibility)),
        );
    if let Some(id) = filter.customer_id {
        query = query.filter(survey_delivery::Column::CustomerId.eq(id));
    }
    if let Some(id) = filter.campaign_id {
        query = query.filter(survey_delivery::Column::CampaignId.eq(id));
    }
    if let Some(id) = filter.ticket_id {
        query = query.filter(survey_delivery::Column::TicketId.eq(id));
    }
    if let Some(state) = filter.state {
        let state: &str = state.into();
        query = query.filter(survey_delivery::Column::State.eq(state));
    }
    let rows = query
        .order_by_desc(survey_delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let mut templates: HashMap<Id, SurveyTemplate> = HashMap::new();
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = templates.entry(row.template_id) {
            slot.insert(template_by_id(db, row.template_id).await?);
        }
        views.push(delivery_to_domain(
            row.clone(),
            &templates[&row.template_id],
        )?);
    }
    Ok(views)
}

fn visible_customers(tenant_id: Id, visibility: Visibility) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(customer::Column::Id)
        .from(customer::Entity)
        .cond_where(customers::visible(tenant_id, visibility))
        .to_owned()
}

/// What the worker does with a claimed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Send,
    Remind,
}

/// A claimed delivery, rendered for its channel.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: Id,
    pub tenant_id: Id,
    pub channel: String,
    pub step: Step,
    pub attempts: i32,
    pub expires_at: DateTime<Utc>,
    /// The lease this worker holds; an outcome is recorded only while it still holds it.
    pub leased_until: DateTime<Utc>,
    pub delivery: Delivery,
}

/// How long a claimed delivery stays with the worker that claimed it. A worker that dies
/// mid-send leaves the delivery to be sent again after the lease, with the same delivery id
/// for the channel to recognise.
pub const CLAIM_LEASE: i64 = 600;

/// Expires what ran out, then claims up to `limit` deliveries due for a send or a reminder,
/// leasing each so that no other worker takes it meanwhile.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
    base_url: &str,
) -> StoreResult<Vec<Claimed>> {
    let mut query = survey_delivery::Entity::find()
        .filter(survey_delivery::Column::NextCheckAt.lte(now))
        .order_by_asc(survey_delivery::Column::NextCheckAt)
        .limit(limit);
    if db.get_database_backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = query.all(db).await?;
    let contact_ids: Vec<Id> = rows.iter().map(|row| row.contact_id).collect();
    let mut contacts: HashMap<Id, contact::Model> = HashMap::new();
    for chunk in contact_ids.chunks(500) {
        for contact in contact::Entity::find()
            .filter(contact::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            contacts.insert(contact.id, contact);
        }
    }
    // Whole milliseconds, so that the value compares equal after a round trip through either
    // database.
    let lease_until = chrono::SubsecRound::trunc_subsecs(now + Duration::seconds(CLAIM_LEASE), 3);
    let mut claimed = Vec::with_capacity(rows.len());
    let mut templates: HashMap<Id, SurveyTemplate> = HashMap::new();
    let mut settings_of: HashMap<Id, SurveySettings> = HashMap::new();
    for row in rows {
        let state: DeliveryState = parse_column("survey_deliveries.state", &row.state)?;
        if row.expires_at <= now || !matches!(state, DeliveryState::Queued | DeliveryState::Sent) {
            finish(db, row, state, now).await?;
            continue;
        }
        let step = if state == DeliveryState::Queued {
            Step::Send
        } else {
            Step::Remind
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = templates.entry(row.template_id) {
            slot.insert(template_by_id(db, row.template_id).await?);
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = settings_of.entry(row.tenant_id) {
            slot.insert(settings(db, row.tenant_id).await?);
        }
        let Some(contact) = contacts.get(&row.contact_id).cloned() else {
            fail(db, row, "the contact was deleted", now).await?;
            continue;
        };
        let base = settings_of[&row.tenant_id]
            .public_base_url
            .clone()
            .unwrap_or_else(|| base_url.to_owned());
        let delivery = render(&row, &templates[&row.template_id], contact, &base, step);
        claimed.push(Claimed {
            id: row.id,
            tenant_id: row.tenant_id,
            channel: row.channel,
            step,
            attempts: row.attempts,
            expires_at: row.expires_at,
            leased_until: lease_until,
            delivery,
        });
    }
    // One lease for the whole batch.
    let ids: Vec<Id> = claimed.iter().map(|claim| claim.id).collect();
    for chunk in ids.chunks(500) {
        survey_delivery::Entity::update_many()
            .col_expr(
                survey_delivery::Column::NextCheckAt,
                Some(lease_until).into(),
            )
            .filter(survey_delivery::Column::Id.is_in(chunk.to_vec()))
            .exec(db)
            .await?;
    }
    Ok(claimed)
}

/// A delivery that is past its expiry, or in a final state, needs no more checks.
async fn finish(
    db: &impl ConnectionTrait,
    row: survey_delivery::Model,
    state: DeliveryState,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let mut active = row.clone().into_active_model();
    if matches!(state, DeliveryState::Queued | DeliveryState::Sent) && row.expires_at <= now {
        let expired: &str = DeliveryState::Expired.into();
        active.state = Set(expired.to_owned());
    }
    active.next_check_at = Set(None);
    active.update(db).await?;
    Ok(())
}

async fn fail(
    db: &impl ConnectionTrait,
    row: survey_delivery::Model,
    error: &str,
    _now: DateTime<Utc>,
) -> StoreResult<()> {
    let failed: &str = DeliveryState::Failed.into();
    let mut active = row.into_active_model();
    active.state = Set(failed.to_owned());
    active.last_error = Set(Some(error.to_owned()));
    active.next_check_at = Set(None);
    active.update(db).await?;
    Ok(())
}

/// The response page's address for a token.
pub fn response_link(base_url: &str, token: &str) -> String {
    format!("{}/s/{token}", base_url.trim_end_matches('/'))
}

fn render(
    row: &survey_delivery::Model,
    template: &SurveyTemplate,
    contact: contact::Model,
    base_url: &str,
    step: Step,
) -> Delivery {
    let (locale, texts) = template.texts_for(&row.locale);
    let link = response_link(base_url, &row.token);
    let reminder = match (step, locale) {
        (Step::Send, _) => "",
        (Step::Remind, "zh-CN") => "【提醒】",
        (Step::Remind, _) => "Reminder: ",
    };
    Delivery {
        delivery_id: format!("sd-{}", row.id),
        recipient: Recipient {
            contact_id: contact.id,
            name: contact.name,
            phone: contact.phone,
            email: contact.email,
            wechat_id: contact.wechat_id,
        },
        subject: format!("{reminder}{}", texts.title),
        body: format!("{}\n{link}", texts.question),
        response_link: link,
        locale: locale.to_owned(),
    }
}

/// What a channel made of a claimed delivery.
#[derive(Debug, Clone)]
pub enum SendResult {
    Sent {
        external_id: Option<String>,
    },
    /// Worth another try later (rate limit, timeout, 5xx).
    Retryable(String),
    Fatal(String),
}

/// Records the outcome of sending (or reminding) a claimed delivery, unless it was answered
/// meanwhile (say, from the first message while a reminder was out).
pub async fn record_send(
    db: &impl ConnectionTrait,
    claimed: &Claimed,
    result: &SendResult,
    reminder_after: Option<Duration>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    use survey_delivery::Column as C;
    let expires_at = claimed.expires_at;
    let attempt = claimed.attempts + 1;
    let text = |state: DeliveryState| -> sea_orm::sea_query::SimpleExpr {
        let state: &str = state.into();
        state.into()
    };
    let mut update = survey_delivery::Entity::update_many()
        .filter(C::Id.eq(claimed.id))
        .filter(C::State.is_in(["queued", "sent"]))
        // A worker whose lease ran out (and was taken over) records nothing.
        .filter(C::NextCheckAt.eq(claimed.leased_until));
    update = match (result, claimed.step) {
        (SendResult::Sent { external_id }, Step::Send) => {
            let remind_at = reminder_after
                .map(|after| now + after)
                .filter(|at| *at < expires_at);
            update
                .col_expr(C::State, text(DeliveryState::Sent))
                .col_expr(C::SentAt, Some(now).into())
                .col_expr(C::ExternalId, external_id.clone().into())
                .col_expr(C::Attempts, attempt.into())
                .col_expr(C::LastError, Option::<String>::None.into())
                .col_expr(C::NextCheckAt, Some(remind_at.unwrap_or(expires_at)).into())
        }
        (SendResult::Sent { .. }, Step::Remind) => update
            .col_expr(C::RemindedAt, Some(now).into())
            .col_expr(C::NextCheckAt, Some(expires_at).into()),
        (SendResult::Retryable(error), Step::Send)
            if crate::domain::survey::retries_after(attempt) =>
        {
            let retry_at = now + crate::domain::survey::retry_backoff(attempt);
            update
                .col_expr(C::Attempts, attempt.into())
                .col_expr(C::LastError, Some(error.clone()).into())
                .col_expr(C::NextCheckAt, Some(retry_at).into())
        }
        (SendResult::Retryable(error) | SendResult::Fatal(error), Step::Send) => update
            .col_expr(C::State, text(DeliveryState::Failed))
            .col_expr(C::Attempts, attempt.into())
            .col_expr(C::LastError, Some(error.clone()).into())
            .col_expr(C::NextCheckAt, Option::<DateTime<Utc>>::None.into()),
        // A reminder is a courtesy: one try, and the survey stays open either way.
        (SendResult::Retryable(error) | SendResult::Fatal(error), Step::Remind) => update
            .col_expr(C::RemindedAt, Some(now).into())
            .col_expr(C::LastError, Some(format!("reminder: {error}")).into())
            .col_expr(C::NextCheckAt, Some(expires_at).into()),
    };
    update.exec(db).await?;
    Ok(())
}

// Responses

/// Why a token cannot take an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    Answered,
    Expired,
    /// Never sent: a failed delivery's link was never handed out.
    Failed,
}

/// A delivery looked up by its token, with its template.
pub struct Opened {
    pub row: survey_delivery::Model,
    pub template: SurveyTemplate,
    pub closed: Option<Closed>,
}

/// The delivery behind a response token; `NotFound` for a forged one.
pub async fn open_token(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> StoreResult<Opened> {
    if token.len() != 32
        || !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(StoreError::NotFound("survey"));
    }
    let row = survey_delivery::Entity::find()
        .filter(survey_delivery::Column::Token.eq(token))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("survey"))?;
    open_row(db, row, now).await
}

/// Opens a delivery row found by its token or by the id its channel was given.
pub async fn open_row(
    db: &impl ConnectionTrait,
    row: survey_delivery::Model,
    now: DateTime<Utc>,
) -> StoreResult<Opened> {
    let template = template_by_id(db, row.template_id).await?;
    let state: DeliveryState = parse_column("survey_deliveries.state", &row.state)?;
    let closed = match state {
        DeliveryState::Answered => Some(Closed::Answered),
        DeliveryState::Expired => Some(Closed::Expired),
        DeliveryState::Failed => Some(Closed::Failed),
        _ if row.expires_at <= now => Some(Closed::Expired),
        _ => None,
    };
    Ok(Opened {
        row,
        template,
        closed,
    })
}

impl Opened {
    pub fn public(&self) -> StoreResult<PublicSurvey> {
        let (locale, texts) = self.template.texts_for(&self.row.locale);
        Ok(PublicSurvey {
            locale: locale.to_owned(),
            kind: self.template.kind,
            scale: self.template.scale(),
            texts: texts.clone(),
            dimensions: self
                .template
                .dimensions
                .iter()
                .map(|d| {
                    let label = d.labels.get(locale).or_else(|| d.labels.values().next());
                    (d.key.clone(), label.cloned().unwrap_or_default())
                })
                .collect(),
            state: parse_column("survey_deliveries.state", &self.row.state)?,
            expires_at: self.row.expires_at,
        })
    }
}

/// Stores the one answer of a delivery: the response, the satisfaction record and, on a low
/// score, a recovery ticket for the account owner with a task for each manager. A second
/// answer is refused with `already_answered`.
pub async fn answer(
    db: &impl ConnectionTrait,
    opened: &Opened,
    answer: Answer,
    via: &str,
    now: DateTime<Utc>,
) -> StoreResult<SurveyResponse> {
    let row = &opened.row;
    let answered: &str = DeliveryState::Answered.into();
    // The state check and the change are one statement, so two submits cannot both pass.
    let updated = survey_delivery::Entity::update_many()
        .col_expr(survey_delivery::Column::State, answered.into())
        .col_expr(survey_delivery::Column::AnsweredAt, now.into())
        .col_expr(
            survey_delivery::Column::NextCheckAt,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(survey_delivery::Column::Id.eq(row.id))
        .filter(survey_delivery::Column::State.is_in(["queued", "sent"]))
        .filter(survey_delivery::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(StoreError::Conflict {
            code: "already_answered",
            message: "this survey was already answered or is closed".to_owned(),
        });
    }
    let template = &opened.template;
    let settings = settings(db, row.tenant_id).await?;
    let recovery_ticket_id = if settings.low_score.is_low(template.kind, answer.score) {
        Some(open_recovery_ticket(db, row, template, &answer, now).await?)
    } else {
        None
    };
    let kind: &str = template.kind.into();
    let stored = survey_response::ActiveModel {
        tenant_id: Set(row.tenant_id),
        delivery_id: Set(row.id),
        customer_id: Set(row.customer_id),
        kind: Set(kind.to_owned()),
        score: Set(answer.score),
        dimensions: Set(json_text(&answer.dimensions)),
        comment: Set(answer.comment.clone()),
        via: Set(via.to_owned()),
        recovery_ticket_id: Set(recovery_ticket_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|error| {
        StoreError::conflict_on_unique(
            error,
            "already_answered",
            "this survey was already answered",
        )
    })?;
    let fields = SatisfactionFields {
        kind: template.kind,
        value: answer.score.into(),
        source: "survey".to_owned(),
        note: answer.comment.clone(),
        recorded_at: now,
    };
    satisfaction::create(db, row.tenant_id, row.customer_id, fields).await?;
    let payload = serde_json::json!({
        "customer_id": row.customer_id, "delivery_id": row.id, "kind": kind,
        "score": answer.score, "recovery_ticket_id": recovery_ticket_id,
    });
    events::append(db, row.tenant_id, "survey.answered", stored.id, &payload).await?;
    response_to_domain(stored)
}

fn response_to_domain(row: survey_response::Model) -> StoreResult<SurveyResponse> {
    Ok(SurveyResponse {
        kind: parse_column("survey_responses.kind", &row.kind)?,
        dimensions: serde_json::from_str(&row.dimensions)
            .map_err(|e| corrupt("survey_responses.dimensions", e))?,
        id: row.id,
        delivery_id: row.delivery_id,
        customer_id: row.customer_id,
        score: row.score,
        comment: row.comment,
        via: row.via,
        recovery_ticket_id: row.recovery_ticket_id,
        created_at: row.created_at,
    })
}

fn scale_label(kind: SatisfactionKind, score: i32) -> String {
    let (_, high) = kind.range();
    let kind: &str = kind.into();
    format!("{} {score}/{high}", kind.to_uppercase())
}

async fn open_recovery_ticket(
    db: &impl ConnectionTrait,
    row: &survey_delivery::Model,
    template: &SurveyTemplate,
    answer: &Answer,
    now: DateTime<Utc>,
) -> StoreResult<Id> {
    let customer = customer::Entity::find_by_id(row.customer_id)
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("customer"))?;
    let score = scale_label(template.kind, answer.score);
    let mut description = format!("Low survey score {score} on \"{}\".", template.name);
    if let Some(comment) = &answer.comment {
        description.push_str(&format!("\n\nCustomer's comment: {comment}"));
    }
    let contact_exists = contact::Entity::find_by_id(row.contact_id)
        .filter(contact::Column::CustomerId.eq(row.customer_id))
        .one(db)
        .await?
        .is_some();
    let new = NewTicket {
        customer_id: row.customer_id,
        contact_id: contact_exists.then_some(row.contact_id),
        ticket_type: TicketType::Complaint,
        priority: TicketPriority::High,
        category: Some("survey-recovery".to_owned()),
        subject: format!("Recover {}: {score}", customer.name),
        description,
    };
    let mut ticket = tickets::create(db, row.tenant_id, new, None).await?;
    let owner = match customer.owner_id {
        Some(owner) => user::Entity::find_by_id(owner)
            .one(db)
            .await?
            .filter(|u| u.active),
        None => None,
    };
    if let Some(owner) = &owner {
        let department = owner.department_id.or(ticket.department_id);
        ticket = tickets::assign(
            db,
            row.tenant_id,
            ticket.id,
            Visibility::All,
            department,
            Some(owner.id),
            None,
        )
        .await?;
    }
    let managers = tickets::department_managers(
        db,
        row.tenant_id,
        owner.as_ref().and_then(|o| o.department_id),
    )
    .await?;
    for manager in &managers {
        let fields = TaskFields {
            title: format!("Low score from {}: {score}", customer.name),
            customer_id: Some(row.customer_id),
            assignee_id: *manager,
            due_at: now + Duration::hours(24),
            priority: TaskPriority::High,
            notes: answer.comment.clone(),
            status: TaskStatus::Open,
        };
        tasks::create(
            db,
            row.tenant_id,
            fields,
            Origin::Ticket {
                ticket_id: ticket.id,
            },
        )
        .await?;
    }
    let payload = serde_json::json!({
        "customer_id": row.customer_id, "ticket_id": ticket.id, "score": answer.score,
        "kind": template.kind, "owner_id": customer.owner_id, "manager_ids": managers,
    });
    events::append(db, row.tenant_id, "survey.low_score", row.id, &payload).await?;
    Ok(ticket.id)
}

/// The deliveries sent to a phone number over a channel and still open, newest first: how an
/// SMS reply without a delivery id finds its survey.
pub async fn open_by_phone(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    channel: &str,
    phone: &str,
) -> StoreResult<Option<survey_delivery::Model>> {
    let contacts: Vec<Id> = contact::Entity::find()
        .select_only()
        .column(contact::Column::Id)
        .filter(contact::Column::TenantId.eq(tenant_id))
        .filter(contact::Column::Phone.eq(phone))
        .into_tuple()
        .all(db)
        .await?;
    Ok(survey_delivery::Entity::find()
        .filter(survey_delivery::Column::TenantId.eq(tenant_id))
        .filter(survey_delivery::Column::Channel.eq(channel))
        .filter(survey_delivery::Column::ContactId.is_in(contacts))
        .filter(survey_delivery::Column::State.eq("sent"))
        .order_by_desc(survey_delivery::Column::SentAt)
        .one(db)
        .await?)
}

/// A delivery by the id its channel was given (`sd-<id>`), within a tenant and channel.
pub async fn by_channel_id(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    channel: &str,
    delivery_id: &str,
) -> StoreResult<Option<survey_delivery::Model>> {
    let Some(id) = delivery_id
        .strip_prefix("sd-")
        .and_then(|id| id.parse::<Id>().ok())
    else {
        return Ok(None);
    };
    Ok(survey_delivery::Entity::find_by_id(id)
        .filter(survey_delivery::Column::TenantId.eq(tenant_id))
        .filter(survey_delivery::Column::Channel.eq(channel))
        .one(db)
        .await?)
}

/// Responses of the caller's customers, newest first.
pub async fn responses(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    visibility: Visibility,
    customer_id: Option<Id>,
    limit: u64,
) -> StoreResult<Vec<SurveyResponse>> {
    let mut query = survey_response::Entity::find()
        .filter(survey_response::Column::TenantId.eq(tenant_id))
        .filter(
            survey_response::Column::CustomerId
                .in_subquery(visible_customers(tenant_id, visibility)),
        );
    if let Some(id) = customer_id {
        query = query.filter(survey_response::Column::CustomerId.eq(id));
    }
    query
        .order_by_desc(survey_response::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(response_to_domain)
        .collect()
}

// Campaigns

fn campaign_to_domain(row: survey_campaign::Model) -> StoreResult<Campaign> {
    Ok(Campaign {
        audience: serde_json::from_str(&row.audience)
            .map_err(|e| corrupt("survey_campaigns.audience", e))?,
        last_report: row
            .last_report
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt("survey_campaigns.last_report", e))?,
        id: row.id,
        name: row.name,
        template_key: row.template_key,
        channel: row.channel,
        every_months: row.every_months.and_then(|m| u32::try_from(m).ok()),
        next_run_at: row.next_run_at,
        last_run_at: row.last_run_at,
        created_at: row.created_at,
    })
}

pub async fn create_campaign(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    new: NewCampaign,
    created_by: Id,
) -> StoreResult<Campaign> {
    template(db, tenant_id, &new.template_key)
        .await
        .map_err(|_| unknown_template("template_key"))?;
    let row = survey_campaign::ActiveModel {
        tenant_id: Set(tenant_id),
        name: Set(new.name),
        template_key: Set(new.template_key),
        channel: Set(new.channel),
        audience: Set(json_text(&new.audience)),
        every_months: Set(new.every_months.map(|m| m as i32)),
        next_run_at: Set(Some(new.next_run_at)),
        created_by: Set(Some(created_by)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    campaign_to_domain(row)
}

pub async fn campaign(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<Campaign> {
    campaign_to_domain(campaign_row(db, tenant_id, id).await?)
}

async fn campaign_row(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
) -> StoreResult<survey_campaign::Model> {
    survey_campaign::Entity::find_by_id(id)
        .filter(survey_campaign::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("survey campaign"))
}

pub async fn campaigns(db: &impl ConnectionTrait, tenant_id: Id) -> StoreResult<Vec<Campaign>> {
    survey_campaign::Entity::find()
        .filter(survey_campaign::Column::TenantId.eq(tenant_id))
        .order_by_desc(survey_campaign::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(campaign_to_domain)
        .collect()
}

pub async fn delete_campaign(db: &impl ConnectionTrait, tenant_id: Id, id: Id) -> StoreResult<()> {
    let row = campaign_row(db, tenant_id, id).await?;
    survey_campaign::Entity::delete_by_id(row.id)
        .exec(db)
        .await?;
    Ok(())
}

async fn audience_customers(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    audience: &Audience,
) -> StoreResult<Vec<Id>> {
    let mut by_segment = Condition::all();
    if !audience.tiers.is_empty() {
        by_segment = by_segment.add(customer::Column::Tier.is_in(audience.tiers.clone()));
    }
    for tag in &audience.tags {
        by_segment = by_segment.add(
            customer::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(customer_tag::Column::CustomerId)
                    .from(customer_tag::Entity)
                    .and_where(customer_tag::Column::TenantId.eq(tenant_id))
                    .and_where(customer_tag::Column::Tag.eq(tag.as_str()))
                    .to_owned(),
            ),
        );
    }
    let mut ids: Vec<Id> = Vec::new();
    if !audience.tiers.is_empty() || !audience.tags.is_empty() {
        ids = customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::TenantId.eq(tenant_id))
            .filter(by_segment)
            .into_tuple()
            .all(db)
            .await?;
    }
    // Listed customers go in chunks: SQLite caps the variables of one statement.
    for chunk in audience.customer_ids.chunks(500) {
        let found: Vec<Id> = customer::Entity::find()
            .select_only()
            .column(customer::Column::Id)
            .filter(customer::Column::TenantId.eq(tenant_id))
            .filter(customer::Column::Id.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        ids.extend(found);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Queues a campaign's surveys now and schedules its next run (none for a one-off).
pub async fn run_campaign(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    id: Id,
    now: DateTime<Utc>,
) -> StoreResult<Campaign> {
    let row = campaign_row(db, tenant_id, id).await?;
    let campaign = campaign_to_domain(row.clone())?;
    let template = template(db, tenant_id, &campaign.template_key).await?;
    let settings = settings(db, tenant_id).await?;
    let mut report = CampaignReport::default();
    for customer_id in audience_customers(db, tenant_id, &campaign.audience).await? {
        let request = Enqueue {
            template: &template,
            channel: &campaign.channel,
            customer_id,
            contact_id: None,
            ticket_id: None,
            campaign_id: Some(campaign.id),
            cause: if campaign.every_months.is_some() {
                DeliveryCause::Campaign
            } else {
                DeliveryCause::Manual
            },
            send_after: now,
        };
        match enqueue(db, tenant_id, request, &settings, now).await? {
            Enqueued::Queued(_) => report.queued += 1,
            Enqueued::Throttled => report.throttled += 1,
            Enqueued::OptedOut => report.opted_out += 1,
            Enqueued::NoContact => report.no_contact += 1,
        }
    }
    let next_run_at = campaign.every_months.map(|months| {
        let mut next = campaign.next_run_at.unwrap_or(now);
        while next <= now {
            next = next + chrono::Months::new(months);
        }
        next
    });
    let mut active = row.into_active_model();
    active.next_run_at = Set(next_run_at);
    active.last_run_at = Set(Some(now));
    active.last_report = Set(Some(json_text(&report)));
    campaign_to_domain(active.update(db).await?)
}

/// Campaigns whose run is due, as `(tenant, campaign)`.
pub async fn due_campaigns(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> StoreResult<Vec<(Id, Id)>> {
    let mut query = survey_campaign::Entity::find()
        .filter(survey_campaign::Column::NextRunAt.lte(now))
        .order_by_asc(survey_campaign::Column::NextRunAt)
        .limit(limit);
    if db.get_database_backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Ok(query
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.tenant_id, row.id))
        .collect())
}

// KPI facts

async fn groups_of(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    customer_ids: Vec<Id>,
) -> StoreResult<HashMap<Id, KpiGroups>> {
    let mut groups = HashMap::new();
    let mut owners: BTreeMap<Id, Option<Id>> = BTreeMap::new();
    for chunk in customer_ids.chunks(500) {
        let rows = customer::Entity::find()
            .filter(customer::Column::TenantId.eq(tenant_id))
            .filter(customer::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?;
        for row in rows {
            if let Some(owner) = row.owner_id {
                owners.insert(owner, None);
            }
            groups.insert(
                row.id,
                KpiGroups {
                    tier: row.tier,
                    owner_id: row.owner_id,
                    department_id: None,
                },
            );
        }
    }
    let users = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Id.is_in(owners.keys().copied().collect::<Vec<_>>()))
        .all(db)
        .await?;
    for user in users {
        owners.insert(user.id, user.department_id);
    }
    for group in groups.values_mut() {
        group.department_id = group
            .owner_id
            .and_then(|owner| owners.get(&owner).copied().flatten());
    }
    Ok(groups)
}

/// Responses and deliveries between `from` and `until` of the caller's customers, with each
/// customer's tier, owner and owner's department.
pub async fn kpi_facts(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    visibility: Visibility,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<(Vec<KpiResponse>, Vec<KpiDelivery>)> {
    let response_rows = survey_response::Entity::find()
        .filter(survey_response::Column::TenantId.eq(tenant_id))
        .filter(
            survey_response::Column::CustomerId
                .in_subquery(visible_customers(tenant_id, visibility)),
        )
        .filter(survey_response::Column::CreatedAt.gte(from))
        .filter(survey_response::Column::CreatedAt.lt(until))
        .all(db)
        .await?;
    let delivery_rows = survey_delivery::Entity::find()
        .filter(survey_delivery::Column::TenantId.eq(tenant_id))
        .filter(
            survey_delivery::Column::CustomerId
                .in_subquery(visible_customers(tenant_id, visibility)),
        )
        .filter(survey_delivery::Column::SentAt.gte(from))
        .filter(survey_delivery::Column::SentAt.lt(until))
        .all(db)
        .await?;
    let mut customer_ids: Vec<Id> = response_rows.iter().map(|r| r.customer_id).collect();
    customer_ids.extend(delivery_rows.iter().map(|d| d.customer_id));
    customer_ids.sort_unstable();
    customer_ids.dedup();
    let groups = groups_of(db, tenant_id, customer_ids).await?;
    let group = |customer: Id| groups.get(&customer).cloned().unwrap_or_default();
    let mut responses = Vec::with_capacity(response_rows.len());
    for row in response_rows {
        responses.push(KpiResponse {
            kind: parse_column("survey_responses.kind", &row.kind)?,
            score: row.score,
            dimensions: serde_json::from_str(&row.dimensions)
                .map_err(|e| corrupt("survey_responses.dimensions", e))?,
            answered_at: row.created_at,
            groups: group(row.customer_id),
        });
    }
    let deliveries = delivery_rows
        .into_iter()
        .filter_map(|row| {
            Some(KpiDelivery {
                sent_at: row.sent_at?,
                answered_at: row.answered_at,
                groups: group(row.customer_id),
            })
        })
        .collect();
    Ok((responses, deliveries))
}
