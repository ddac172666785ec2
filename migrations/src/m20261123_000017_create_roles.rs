use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The roles of a tenant, built-in and custom. A role's permissions and its members live in
/// `casbin_rules`; this table lets a role exist (and be described) before it holds any.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Roles::Id))
                    .col(big_integer(Roles::TenantId))
                    .col(string(Roles::Name))
                    .col(string(Roles::Description))
                    .col(boolean(Roles::BuiltIn))
                    .col(timestamp_with_time_zone(Roles::CreatedAt))
                    .foreign_key(&mut crate::tenant_fk(Roles::Table, Roles::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_roles_tenant_name")
                    .table(Roles::Table)
                    .col(Roles::TenantId)
                    .col(Roles::Name)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Roles::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum Roles {
    Table,
    Id,
    TenantId,
    Name,
    Description,
    BuiltIn,
    CreatedAt,
}
