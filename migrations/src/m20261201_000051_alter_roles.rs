use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `known_resources`: the resources a built-in role's grants were last brought up to date with
/// (JSON array), so a release that adds a resource grants it to the editable built-in roles of
/// existing tenants once, and never again after a tenant admin took it away.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Roles::Table)
                    .add_column(text_null(Roles::KnownResources))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Roles::Table)
                    .drop_column(Roles::KnownResources)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    KnownResources,
}
