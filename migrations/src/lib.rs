//! The Rapport schema as an ordered list of sea-orm migrations.
//!
//! Every migration has an `up` and a `down`; the runtime applies pending ones at start-up
//! (`rapport serve`) and on demand (`rapport migrate`), and this crate's own binary
//! (`rapport-migrations`) exposes sea-orm-migration's standard CLI.

pub use sea_orm_migration;
use sea_orm_migration::prelude::*;

mod m20261123_000001_create_tenants;
mod m20261123_000002_create_users;
mod m20261123_000003_create_api_tokens;
mod m20261123_000004_create_customers;
mod m20261123_000005_create_customer_tags;
mod m20261123_000006_create_contacts;
mod m20261123_000007_create_orders;
mod m20261123_000008_create_interactions;
mod m20261123_000009_create_satisfaction_records;
mod m20261123_000010_create_plugin_components;
mod m20261123_000011_create_plugin_versions;
mod m20261123_000012_create_tenant_plugins;
mod m20261123_000013_create_plugin_runs;
mod m20261123_000014_alter_users;
mod m20261123_000015_alter_api_tokens;
mod m20261123_000016_create_departments;
mod m20261123_000017_create_roles;
mod m20261123_000018_create_casbin_rules;
mod m20261123_000019_alter_users;
mod m20261123_000020_alter_tenants;
mod m20261123_000021_create_audit_entries;
mod m20261123_000022_alter_api_tokens;
mod m20261123_000023_create_tier_history;
mod m20261123_000024_create_events;
mod m20261123_000025_create_tasks;
mod m20261123_000026_create_tier_service_policies;
mod m20261123_000027_create_automation_rules;
mod m20261123_000028_create_rule_firings;
mod m20261123_000029_create_schedules;
mod m20261123_000030_create_tier_requests;
mod m20261123_000031_alter_events;
mod m20261123_000032_alter_tasks;
mod m20261123_000033_alter_customers;
mod m20261123_000034_alter_orders;
mod m20261123_000035_alter_customer_tags;
mod m20261123_000036_create_business_calendars;
mod m20261123_000037_create_sla_policies;
mod m20261123_000038_create_routing_rules;
mod m20261123_000039_create_tickets;
mod m20261123_000040_create_ticket_changes;
mod m20261123_000041_create_ticket_comments;
mod m20261123_000042_alter_tasks;
mod m20261123_000043_create_knowledge_articles;
mod m20261123_000044_create_knowledge_article_tickets;
mod m20261201_000045_create_survey_templates;
mod m20261201_000046_create_survey_settings;
mod m20261201_000047_create_survey_campaigns;
mod m20261201_000048_create_survey_deliveries;
mod m20261201_000049_create_survey_responses;
mod m20261201_000050_create_survey_opt_outs;
mod m20261201_000051_alter_roles;
mod m20261201_000052_alter_customers;
mod m20261201_000053_create_sync_connectors;
mod m20261201_000054_create_sync_streams;
mod m20261201_000055_create_sync_runs;
mod m20261201_000056_create_sync_run_streams;
mod m20261201_000057_create_sync_links;
mod m20261201_000058_create_sync_reviews;
mod m20261201_000059_alter_orders;
mod m20261204_000060_alter_orders;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_tenants::Migration),
            Box::new(m20261123_000002_create_users::Migration),
            Box::new(m20261123_000003_create_api_tokens::Migration),
            Box::new(m20261123_000004_create_customers::Migration),
            Box::new(m20261123_000005_create_customer_tags::Migration),
            Box::new(m20261123_000006_create_contacts::Migration),
            Box::new(m20261123_000007_create_orders::Migration),
            Box::new(m20261123_000008_create_interactions::Migration),
            Box::new(m20261123_000009_create_satisfaction_records::Migration),
            Box::new(m20261123_000010_create_plugin_components::Migration),
            Box::new(m20261123_000011_create_plugin_versions::Migration),
            Box::new(m20261123_000012_create_tenant_plugins::Migration),
            Box::new(m20261123_000013_create_plugin_runs::Migration),
            Box::new(m20261123_000014_alter_users::Migration),
            Box::new(m20261123_000015_alter_api_tokens::Migration),
            Box::new(m20261123_000016_create_departments::Migration),
            Box::new(m20261123_000017_create_roles::Migration),
            Box::new(m20261123_000018_create_casbin_rules::Migration),
            Box::new(m20261123_000019_alter_users::Migration),
            Box::new(m20261123_000020_alter_tenants::Migration),
            Box::new(m20261123_000021_create_audit_entries::Migration),
            Box::new(m20261123_000022_alter_api_tokens::Migration),
            Box::new(m20261123_000023_create_tier_history::Migration),
            Box::new(m20261123_000024_create_events::Migration),
            Box::new(m20261123_000025_create_tasks::Migration),
            Box::new(m20261123_000026_create_tier_service_policies::Migration),
            Box::new(m20261123_000027_create_automation_rules::Migration),
            Box::new(m20261123_000028_create_rule_firings::Migration),
            Box::new(m20261123_000029_create_schedules::Migration),
            Box::new(m20261123_000030_create_tier_requests::Migration),
            Box::new(m20261123_000031_alter_events::Migration),
            Box::new(m20261123_000032_alter_tasks::Migration),
            Box::new(m20261123_000033_alter_customers::Migration),
            Box::new(m20261123_000034_alter_orders::Migration),
            Box::new(m20261123_000035_alter_customer_tags::Migration),
            Box::new(m20261123_000036_create_business_calendars::Migration),
            Box::new(m20261123_000037_create_sla_policies::Migration),
            Box::new(m20261123_000038_create_routing_rules::Migration),
            Box::new(m20261123_000039_create_tickets::Migration),
            Box::new(m20261123_000040_create_ticket_changes::Migration),
            Box::new(m20261123_000041_create_ticket_comments::Migration),
            Box::new(m20261123_000042_alter_tasks::Migration),
            Box::new(m20261123_000043_create_knowledge_articles::Migration),
            Box::new(m20261123_000044_create_knowledge_article_tickets::Migration),
            Box::new(m20261201_000045_create_survey_templates::Migration),
            Box::new(m20261201_000046_create_survey_settings::Migration),
            Box::new(m20261201_000047_create_survey_campaigns::Migration),
            Box::new(m20261201_000048_create_survey_deliveries::Migration),
            Box::new(m20261201_000049_create_survey_responses::Migration),
            Box::new(m20261201_000050_create_survey_opt_outs::Migration),
            Box::new(m20261201_000051_alter_roles::Migration),
            Box::new(m20261201_000052_alter_customers::Migration),
            Box::new(m20261201_000053_create_sync_connectors::Migration),
            Box::new(m20261201_000054_create_sync_streams::Migration),
            Box::new(m20261201_000055_create_sync_runs::Migration),
            Box::new(m20261201_000056_create_sync_run_streams::Migration),
            Box::new(m20261201_000057_create_sync_links::Migration),
            Box::new(m20261201_000058_create_sync_reviews::Migration),
            Box::new(m20261201_000059_alter_orders::Migration),
            Box::new(m20261204_000060_alter_orders::Migration),
        ]
    }
}

/// A foreign key to `tenants.id` that removes the row with its tenant.
fn tenant_fk<T: IntoIden + Clone + 'static>(
    table: T,
    column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

/// A foreign key to `customers.id`: a customer's children go with it.
fn customer_fk<T: IntoIden + Clone + 'static>(
    table: T,
    column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Customers::Table, Customers::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

/// A foreign key to `tickets.id`: a ticket's history, comments and article links go with it.
fn ticket_fk<T: IntoIden + Clone + 'static>(
    table: T,
    column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Tickets::Table, Tickets::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

/// A foreign key to `knowledge_articles.id`.
fn article_fk<T: IntoIden + Clone + 'static>(
    table: T,
    column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(KnowledgeArticles::Table, KnowledgeArticles::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum KnowledgeArticles {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
