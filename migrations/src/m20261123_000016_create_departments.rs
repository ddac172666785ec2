use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Departments of a tenant (sales, service, product…): the `team` of record-level scope, and
/// later the unit tickets are routed to.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Departments::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Departments::Id))
                    .col(big_integer(Departments::TenantId))
                    .col(string(Departments::Code))
                    .col(string(Departments::Name))
                    .col(timestamp_with_time_zone(Departments::CreatedAt))
                    .foreign_key(&mut crate::tenant_fk(
                        Departments::Table,
                        Departments::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_departments_tenant_code")
                    .table(Departments::Table)
                    .col(Departments::TenantId)
                    .col(Departments::Code)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Departments::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum Departments {
    Table,
    Id,
    TenantId,
    Code,
    Name,
    CreatedAt,
}
