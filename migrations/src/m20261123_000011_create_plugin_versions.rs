use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000010_create_plugin_components::PluginComponents;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The registry: one row per installed plugin version, with its manifest and component.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PluginVersions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(PluginVersions::Id))
                    .col(string(PluginVersions::PluginId))
                    .col(string(PluginVersions::Version))
                    .col(string(PluginVersions::Vendor))
                    .col(string(PluginVersions::Kind))
                    .col(string(PluginVersions::ApiVersion))
                    .col(text(PluginVersions::Manifest))
                    .col(string(PluginVersions::ComponentSha256))
                    .col(timestamp_with_time_zone(PluginVersions::InstalledAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PluginVersions::Table, PluginVersions::ComponentSha256)
                            .to(PluginComponents::Table, PluginComponents::Sha256)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_plugin_versions_plugin_version")
                    .table(PluginVersions::Table)
                    .col(PluginVersions::PluginId)
                    .col(PluginVersions::Version)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PluginVersions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum PluginVersions {
    Table,
    Id,
    PluginId,
    Version,
    Vendor,
    Kind,
    ApiVersion,
    Manifest,
    ComponentSha256,
    InstalledAt,
}
