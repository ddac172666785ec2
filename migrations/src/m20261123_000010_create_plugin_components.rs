use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Plugin components, content-addressed: every replica loads the same bytes by their sha256.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PluginComponents::Table)
                    .if_not_exists()
                    .col(string(PluginComponents::Sha256).primary_key())
                    .col(big_integer(PluginComponents::SizeBytes))
                    .col(blob(PluginComponents::Bytes))
                    .col(timestamp_with_time_zone(PluginComponents::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PluginComponents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum PluginComponents {
    Table,
    Sha256,
    SizeBytes,
    Bytes,
    CreatedAt,
}
