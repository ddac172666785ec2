use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The append-only audit log: who did what to which record, with the changed fields (sensitive
/// values already masked). Nothing updates or deletes these rows except the tenant's removal.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEntries::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AuditEntries::Id))
                    .col(big_integer(AuditEntries::TenantId))
                    .col(big_integer_null(AuditEntries::ActorId))
                    .col(string(AuditEntries::Action))
                    .col(string(AuditEntries::Entity))
                    .col(string_null(AuditEntries::EntityId))
                    .col(text_null(AuditEntries::Changes))
                    .col(timestamp_with_time_zone(AuditEntries::OccurredAt))
                    .foreign_key(&mut crate::tenant_fk(
                        AuditEntries::Table,
                        AuditEntries::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_entries_tenant_id")
                    .table(AuditEntries::Table)
                    .col(AuditEntries::TenantId)
                    .col(AuditEntries::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEntries::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum AuditEntries {
    Table,
    Id,
    TenantId,
    ActorId,
    Action,
    Entity,
    EntityId,
    Changes,
    OccurredAt,
}
