//! Demo and benchmark data: the three sample customers of the seed material's tiering table,
//! plus any number of generated customers with contacts, orders, interactions and satisfaction.
//! Generation is deterministic for a given seed.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, Set, TransactionSession, TransactionTrait,
};
use serde_json::json;

use crate::domain::Id;
use crate::domain::access::{ACCOUNT_MANAGER, TENANT_ADMIN};
use crate::domain::customer::{CustomerFields, CustomerKind, LifecycleStage, quality_flags};
use crate::domain::identity::{IssuedToken, TenantFields, UserInput};
use crate::domain::money::Money;
use crate::store::entity::{
    contact, customer, customer_tag, interaction, order, satisfaction_record,
};
use crate::store::{StoreResult, begin_write, tenants, tokens, users};

pub const DEMO_SLUG: &str = "demo";
pub const TOKEN_FILE: &str = "demo-admin-token.txt";
/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bound-parameter limits.
const BATCH: usize = 500;

/// How much to generate.
#[derive(Debug, Clone)]
pub struct GenerateSpec {
    pub customers: usize,
    pub interactions_per_customer: usize,
    pub orders_per_customer: usize,
    /// `true`: every customer gets exactly the per-customer counts (benchmarks); `false`: between
    /// zero and twice as many (demo realism).
    pub exact_counts: bool,
    pub code_prefix: String,
    pub seed: u64,
}

#[derive(Debug, Clone, Default)]
pub struct GenerateSummary {
    pub customers: usize,
    pub contacts: usize,
    pub interactions: usize,
    pub orders: usize,
    pub satisfaction_records: usize,
}

impl std::ops::Add for GenerateSummary {
    type Output = GenerateSummary;

    fn add(self, other: GenerateSummary) -> GenerateSummary {
        GenerateSummary {
            customers: self.customers + other.customers,
            contacts: self.contacts + other.contacts,
            interactions: self.interactions + other.interactions,
            orders: self.orders + other.orders,
            satisfaction_records: self.satisfaction_records + other.satisfaction_records,
        }
    }
}

#[derive(Debug)]
pub struct DemoTenant {
    pub tenant_id: Id,
    pub admin_token: IssuedToken,
    pub summary: Option<GenerateSummary>,
}

const INDUSTRIES: &[&str] = &[
    "互联网",
    "制造业",
    "零售",
    "金融",
    "医疗",
    "教育",
    "物流",
    "能源",
];
const REGIONS: &[&str] = &["华东", "华北", "华南", "华中", "西南", "西北", "东北"];
const NAME_HEADS: &[&str] = &[
    "华", "星", "云", "恒", "盛", "瑞", "博", "远", "嘉", "鼎", "润", "新",
];
const NAME_TAILS: &[&str] = &[
    "科技有限公司",
    "制造集团",
    "商贸公司",
    "物流有限公司",
    "医疗器械公司",
    "教育科技公司",
];
const SURNAMES: &[&str] = &["张", "李", "王", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "涛", "明",
];
const TAGS: &[&str] = &[
    "功能定制",
    "售后响应",
    "成本优化",
    "交付效率",
    "价格争议",
    "物流延迟",
    "续约关注",
    "战略合作",
];
const PRODUCTS: &[(&str, &str)] = &[
    ("CRM 标准版", "software"),
    ("CRM 企业版", "software"),
    ("实施服务", "service"),
    ("年度维保", "support"),
    ("数据迁移", "service"),
];
const SUMMARIES: &[&str] = &[
    "季度回访,确认使用情况",
    "需求沟通:报表定制",
    "投诉处理跟进",
    "续约意向沟通",
    "新功能演示",
    "上门拜访,了解业务规划",
];
const CHANNELS: &[&str] = &["phone", "email", "wechat", "visit", "meeting", "other"];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// Creates (or re-opens) the demo tenant, fills it on first creation, and issues a fresh admin
/// token which is also written to `data_dir/demo-admin-token.txt`.
pub async fn ensure_demo_tenant<C: TransactionTrait + ConnectionTrait>(
    db: &C,
    data_dir: &Path,
) -> StoreResult<DemoTenant> {
    if let Some(tenant) = tenants::find_by_slug(db, DEMO_SLUG).await? {
        let admin = users::list(db, tenant.id)
            .await?
            .into_iter()
            .find(|u| u.roles.iter().any(|role| role == TENANT_ADMIN) && u.active);
        let admin = admin.ok_or(crate::store::StoreError::NotFound("demo admin"))?;
        let admin_token = tokens::issue(db, tenant.id, admin.id, "demo", None, None).await?;
        write_token(data_dir, &admin_token.secret);
        return Ok(DemoTenant {
            tenant_id: tenant.id,
            admin_token,
            summary: None,
        });
    }
    let fields = TenantFields {
        slug: DEMO_SLUG.to_owned(),
        name: "Demo: 星云服务有限公司".to_owned(),
        default_region: "CN".to_owned(),
        default_currency: "CNY".to_owned(),
        custom_field_schema: Some(json!({
            "type": "object",
            "properties": {
                "contract_end": {"type": "string", "format": "date"},
                "usage_percent": {"type": "number", "minimum": 0, "maximum": 100}
            },
            "additionalProperties": false
        })),
    };
    let admin = UserInput {
        email: "admin@demo.rapport.local".into(),
        display_name: "Demo admin".into(),
        role: None,
        department_id: None,
    };
    let (tenant, _admin, admin_token) = tenants::create_with_admin(db, fields, admin).await?;
    let mut owners = Vec::new();
    for (email, name) in [
        ("zhang@demo.rapport.local", "张经理"),
        ("li@demo.rapport.local", "李经理"),
        ("wang@demo.rapport.local", "王专员"),
    ] {
        let input = UserInput {
            email: email.into(),
            display_name: name.into(),
            role: Some(ACCOUNT_MANAGER.to_owned()),
            department_id: None,
        };
        owners.push(users::create(db, tenant.id, input).await?.id);
    }
    let samples = seed_sample_customers(db, tenant.id, owners[0]).await?;
    let spec = GenerateSpec {
        customers: 3000,
        interactions_per_customer: 8,
        orders_per_customer: 4,
        exact_counts: false,
        code_prefix: "D".into(),
        seed: 2024,
    };
    let summary = samples + generate(db, tenant.id, &owners, &spec, |_| {}).await?;
    write_token(data_dir, &admin_token.secret);
    Ok(DemoTenant {
        tenant_id: tenant.id,
        admin_token,
        summary: Some(summary),
    })
}

fn write_token(data_dir: &Path, secret: &str) {
    let path = data_dir.join(TOKEN_FILE);
    if let Err(error) = std::fs::write(&path, format!("{secret}\n")) {
        tracing::warn!(%error, path = %path.display(), "could not write the demo token file");
    }
}

struct Sample {
    code: &'static str,
    name: &'static str,
    contact: &'static str,
    industry: &'static str,
    tenure_months: i64,
    order_value_cny: i64,
    satisfaction: f64,
    tier: &'static str,
    needs: [&'static str; 2],
}

/// The tiering table of the seed material (001): three customers and how they were tiered.
const SAMPLES: [Sample; 3] = [
    Sample {
        code: "C2024001",
        name: "星云科技有限公司",
        contact: "张*",
        industry: "互联网",
        tenure_months: 18,
        order_value_cny: 1_200_000,
        satisfaction: 4.2,
        tier: "high-value",
        needs: ["功能定制", "售后响应"],
    },
    Sample {
        code: "C2024002",
        name: "恒远制造集团",
        contact: "李*",
        industry: "制造业",
        tenure_months: 6,
        order_value_cny: 350_000,
        satisfaction: 3.8,
        tier: "potential",
        needs: ["成本优化", "交付效率"],
    },
    Sample {
        code: "C2024003",
        name: "盛达商贸公司",
        contact: "王*",
        industry: "零售",
        tenure_months: 24,
        order_value_cny: 800_000,
        satisfaction: 2.5,
        tier: "churn-risk",
        needs: ["价格争议", "物流延迟"],
    },
];

async fn seed_sample_customers<C: TransactionTrait>(
    db: &C,
    tenant_id: Id,
    owner: Id,
) -> StoreResult<GenerateSummary> {
    let now = Utc::now();
    let tx = begin_write(db).await?;
    let mut summary = GenerateSummary::default();
    for sample in &SAMPLES {
        summary.customers += 1;
        let since = now - Duration::days(sample.tenure_months * 30);
        let fields = CustomerFields {
            code: sample.code.into(),
            name: sample.name.into(),
            kind: CustomerKind::Company,
            industry: Some(sample.industry.into()),
            region: Some("华东".into()),
            tax_id: None,
            owner_id: Some(owner),
            stage: LifecycleStage::Customer,
            needs: Some(sample.needs.join("、")),
            tags: sample.needs.iter().map(|t| (*t).to_owned()).collect(),
            custom_fields: json!({}),
        };
        let id = insert_customers(&tx, tenant_id, &[(fields, since)]).await?[0];
        let tags: Vec<String> = sample.needs.iter().map(|t| (*t).to_owned()).collect();
        insert_all(&tx, tag_rows(tenant_id, id, &tags).collect()).await?;
        customer::Entity::update_many()
            .col_expr(
                customer::Column::Tier,
                sea_orm::sea_query::Expr::value(sample.tier),
            )
            .col_expr(
                customer::Column::TierReasons,
                sea_orm::sea_query::Expr::value(json!(["seed material tiering table (demo data)"])),
            )
            .col_expr(
                customer::Column::QualityFlags,
                sea_orm::sea_query::Expr::value(json!([])),
            )
            .filter(customer::Column::Id.eq(id))
            .exec(&tx)
            .await?;
        summary.contacts += insert_all(
            &tx,
            vec![contact_row(
                tenant_id,
                id,
                sample.contact,
                "+8613800138000",
                since,
                true,
            )],
        )
        .await?;
        // Six orders over the tenure that add up to the table's historical order value.
        let total = Decimal::from(sample.order_value_cny);
        let share = (total / Decimal::from(6)).round_dp(2);
        let orders: Vec<order::ActiveModel> = (0..6)
            .map(|n| {
                let amount = if n == 5 {
                    total - share * Decimal::from(5)
                } else {
                    share
                };
                let amount = Money {
                    amount,
                    currency: "CNY".into(),
                };
                let at = since + Duration::days(sample.tenure_months * 5 * n);
                order_row(
                    tenant_id,
                    id,
                    &format!("{}-{n}", sample.code),
                    &amount,
                    at,
                    "CRM 企业版",
                    "software",
                )
            })
            .collect();
        summary.orders += insert_all(&tx, orders).await?;
        summary.interactions += insert_all(
            &tx,
            vec![interaction_row(
                tenant_id,
                id,
                "visit",
                "季度回访,确认使用情况",
                now - Duration::days(sample.tenure_months * 2),
                Some(owner),
            )],
        )
        .await?;
        summary.satisfaction_records += insert_all(
            &tx,
            vec![satisfaction_row(
                tenant_id,
                id,
                "csat",
                sample.satisfaction,
                now - Duration::days(10),
            )],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(summary)
}

/// Generates `spec.customers` customers with their children in batches, calling `progress` with
/// the number of customers written so far.
pub async fn generate<C: TransactionTrait>(
    db: &C,
    tenant_id: Id,
    owners: &[Id],
    spec: &GenerateSpec,
    mut progress: impl FnMut(usize),
) -> StoreResult<GenerateSummary> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let now = Utc::now();
    let mut summary = GenerateSummary::default();
    let mut start = 0;
    while start < spec.customers {
        let end = (start + BATCH).min(spec.customers);
        let tx = begin_write(db).await?;
        let batch: Vec<(CustomerFields, DateTime<Utc>)> = (start..end)
            .map(|n| generated_customer(&mut rng, spec, owners, n, now))
            .collect();
        let ids = insert_customers(&tx, tenant_id, &batch).await?;
        let mut tags = Vec::new();
        let mut contacts = Vec::new();
        let mut interactions = Vec::new();
        let mut orders = Vec::new();
        let mut satisfaction = Vec::new();
        for (&id, (fields, since)) in ids.iter().zip(&batch) {
            tags.extend(tag_rows(tenant_id, id, &fields.tags));
            let count = |rng: &mut StdRng, per: usize| {
                if spec.exact_counts {
                    per
                } else {
                    rng.random_range(0..=per * 2)
                }
            };
            let contact_name = format!("{}{}", pick(&mut rng, SURNAMES), pick(&mut rng, GIVEN));
            let phone = format!("+86138{:08}", rng.random_range(0..100_000_000));
            contacts.push(contact_row(
                tenant_id,
                id,
                &contact_name,
                &phone,
                *since,
                true,
            ));
            let tenure_days = (now - *since).num_days().max(1);
            for _ in 0..count(&mut rng, spec.interactions_per_customer) {
                let at = now
                    - Duration::days(rng.random_range(0..tenure_days))
                    - Duration::minutes(rng.random_range(0..1440));
                let owner = fields.owner_id;
                interactions.push(interaction_row(
                    tenant_id,
                    id,
                    pick(&mut rng, CHANNELS),
                    pick(&mut rng, SUMMARIES),
                    at,
                    owner,
                ));
            }
            for n in 0..count(&mut rng, spec.orders_per_customer) {
                let (product, category) = PRODUCTS[rng.random_range(0..PRODUCTS.len())];
                let amount = Money {
                    amount: Decimal::new(rng.random_range(100_000..50_000_000), 2),
                    currency: "CNY".into(),
                };
                let at = now - Duration::days(rng.random_range(0..tenure_days));
                orders.push(order_row(
                    tenant_id,
                    id,
                    &format!("{}{}-{n}", spec.code_prefix, id),
                    &amount,
                    at,
                    product,
                    category,
                ));
            }
            if rng.random_bool(0.6) {
                let value = f64::from(rng.random_range(1..=5_u8));
                satisfaction.push(satisfaction_row(
                    tenant_id,
                    id,
                    "csat",
                    value,
                    now - Duration::days(rng.random_range(0..180)),
                ));
            }
        }
        summary.customers += ids.len();
        insert_all(&tx, tags).await?;
        summary.contacts += insert_all(&tx, contacts).await?;
        summary.interactions += insert_all(&tx, interactions).await?;
        summary.orders += insert_all(&tx, orders).await?;
        summary.satisfaction_records += insert_all(&tx, satisfaction).await?;
        tx.commit().await?;
        start = end;
        progress(start);
    }
    Ok(summary)
}

fn generated_customer(
    rng: &mut StdRng,
    spec: &GenerateSpec,
    owners: &[Id],
    n: usize,
    now: DateTime<Utc>,
) -> (CustomerFields, DateTime<Utc>) {
    let company = rng.random_bool(0.85);
    let name = if company {
        format!(
            "{}{}{}",
            pick(rng, NAME_HEADS),
            pick(rng, NAME_HEADS),
            pick(rng, NAME_TAILS)
        )
    } else {
        format!("{}{}", pick(rng, SURNAMES), pick(rng, GIVEN))
    };
    let tag_count = rng.random_range(0..=2);
    let mut tags: Vec<String> = (0..tag_count).map(|_| pick(rng, TAGS).to_owned()).collect();
    tags.sort();
    tags.dedup();
    let stage = [
        LifecycleStage::Lead,
        LifecycleStage::Prospect,
        LifecycleStage::Customer,
        LifecycleStage::Customer,
        LifecycleStage::Churned,
    ][rng.random_range(0..5)];
    let fields = CustomerFields {
        code: format!("{}{:07}", spec.code_prefix, n + 1),
        name,
        kind: if company {
            CustomerKind::Company
        } else {
            CustomerKind::Person
        },
        industry: Some(pick(rng, INDUSTRIES).to_owned()),
        region: Some(pick(rng, REGIONS).to_owned()),
        tax_id: None,
        owner_id: (!owners.is_empty()).then(|| owners[n % owners.len()]),
        stage,
        needs: rng.random_bool(0.7).then(|| pick(rng, TAGS).to_owned()),
        tags,
        custom_fields: json!({}),
    };
    let since = now - Duration::days(rng.random_range(30..1100));
    (fields, since)
}

/// Inserts customers created at the given times and returns their ids, in order.
async fn insert_customers(
    db: &impl ConnectionTrait,
    tenant_id: Id,
    rows: &[(CustomerFields, DateTime<Utc>)],
) -> StoreResult<Vec<Id>> {
    let models = rows.iter().map(|(fields, since)| {
        let kind: &'static str = fields.kind.into();
        let stage: &'static str = fields.stage.into();
        let flags: Vec<&'static str> = quality_flags(fields, true)
            .into_iter()
            .map(Into::into)
            .collect();
        customer::ActiveModel {
            tenant_id: Set(tenant_id),
            code: Set(fields.code.clone()),
            name: Set(fields.name.clone()),
            kind: Set(kind.into()),
            industry: Set(fields.industry.clone()),
            region: Set(fields.region.clone()),
            tax_id: Set(fields.tax_id.clone()),
            owner_id: Set(fields.owner_id),
            stage: Set(stage.into()),
            needs: Set(fields.needs.clone()),
            custom_fields: Set(fields.custom_fields.clone()),
            quality_flags: Set(json!(flags)),
            created_at: Set(*since),
            updated_at: Set(*since),
            ..Default::default()
        }
    });
    customer::Entity::insert_many(models).exec(db).await?;
    let codes: Vec<String> = rows.iter().map(|(fields, _)| fields.code.clone()).collect();
    let found: HashMap<String, Id> = customer::Entity::find()
        .select_only()
        .column(customer::Column::Code)
        .column(customer::Column::Id)
        .filter(customer::Column::TenantId.eq(tenant_id))
        .filter(customer::Column::Code.is_in(codes.clone()))
        .into_tuple::<(String, Id)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(codes.iter().map(|code| found[code]).collect())
}

fn tag_rows(
    tenant_id: Id,
    id: Id,
    tags: &[String],
) -> impl Iterator<Item = customer_tag::ActiveModel> + '_ {
    tags.iter().map(move |tag| customer_tag::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(id),
        tag: Set(tag.clone()),
        ..Default::default()
    })
}

fn contact_row(
    tenant_id: Id,
    customer_id: Id,
    name: &str,
    phone: &str,
    at: DateTime<Utc>,
    primary: bool,
) -> contact::ActiveModel {
    contact::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(customer_id),
        name: Set(name.to_owned()),
        title: Set(Some("采购负责人".into())),
        phone: Set(Some(phone.to_owned())),
        email: Set(None),
        wechat_id: Set(None),
        is_primary: Set(primary),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
}

fn order_row(
    tenant_id: Id,
    customer_id: Id,
    external_id: &str,
    amount: &Money,
    at: DateTime<Utc>,
    product: &str,
    category: &str,
) -> order::ActiveModel {
    order::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(customer_id),
        source: Set("demo".into()),
        external_id: Set(external_id.to_owned()),
        amount_e4: Set(Money {
            amount: amount.amount.round_dp(4),
            currency: amount.currency.clone(),
        }
        .storage_units()),
        currency: Set(amount.currency.clone()),
        product: Set(Some(product.to_owned())),
        category: Set(Some(category.to_owned())),
        ordered_at: Set(at),
        status: Set("fulfilled".into()),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
}

fn interaction_row(
    tenant_id: Id,
    customer_id: Id,
    channel: &str,
    summary: &str,
    at: DateTime<Utc>,
    by: Option<Id>,
) -> interaction::ActiveModel {
    interaction::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(customer_id),
        channel: Set(channel.to_owned()),
        occurred_at: Set(at),
        summary: Set(summary.to_owned()),
        feedback: Set(None),
        logged_by: Set(by),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
}

fn satisfaction_row(
    tenant_id: Id,
    customer_id: Id,
    kind: &str,
    value: f64,
    at: DateTime<Utc>,
) -> satisfaction_record::ActiveModel {
    satisfaction_record::ActiveModel {
        tenant_id: Set(tenant_id),
        customer_id: Set(customer_id),
        kind: Set(kind.to_owned()),
        value: Set(value),
        source: Set("demo".into()),
        note: Set(None),
        recorded_at: Set(at),
        created_at: Set(at),
        ..Default::default()
    }
}

/// Inserts rows of any table in multi-row batches.
async fn insert_all<A>(db: &impl ConnectionTrait, rows: Vec<A>) -> StoreResult<usize>
where
    A: ActiveModelTrait + Clone + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    let count = rows.len();
    for chunk in rows.chunks(BATCH) {
        <A::Entity as EntityTrait>::insert_many(chunk.to_vec())
            .exec(db)
            .await?;
    }
    Ok(count)
}
