use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each list filter and each keyset sort order gets an index led by the tenant, because every
/// query is tenant-scoped.
const INDEXED: &[(&str, &[Customers])] = &[
    (
        "ux_customers_tenant_code",
        &[Customers::TenantId, Customers::Code],
    ),
    (
        "ix_customers_tenant_name",
        &[Customers::TenantId, Customers::Name, Customers::Id],
    ),
    (
        "ix_customers_tenant_created",
        &[Customers::TenantId, Customers::CreatedAt, Customers::Id],
    ),
    (
        "ix_customers_tenant_updated",
        &[Customers::TenantId, Customers::UpdatedAt, Customers::Id],
    ),
    (
        "ix_customers_tenant_owner",
        &[Customers::TenantId, Customers::OwnerId],
    ),
    (
        "ix_customers_tenant_tier",
        &[Customers::TenantId, Customers::Tier],
    ),
    (
        "ix_customers_tenant_stage",
        &[Customers::TenantId, Customers::Stage],
    ),
    (
        "ix_customers_tenant_industry",
        &[Customers::TenantId, Customers::Industry],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Customers::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Customers::Id))
                    .col(big_integer(Customers::TenantId))
                    .col(string(Customers::Code))
                    .col(string(Customers::Name))
                    .col(string(Customers::Kind))
                    .col(string_null(Customers::Industry))
                    .col(string_null(Customers::Region))
                    .col(big_integer_null(Customers::OwnerId))
                    .col(string(Customers::Stage))
                    .col(text_null(Customers::Needs))
                    .col(string_null(Customers::Tier))
                    .col(double_null(Customers::TierScore))
                    .col(json_null(Customers::TierReasons))
                    .col(timestamp_with_time_zone_null(Customers::TierEvaluatedAt))
                    .col(json(Customers::CustomFields))
                    .col(json(Customers::QualityFlags))
                    .col(timestamp_with_time_zone(Customers::CreatedAt))
                    .col(timestamp_with_time_zone(Customers::UpdatedAt))
                    .foreign_key(&mut crate::tenant_fk(Customers::Table, Customers::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Customers::Table, Customers::OwnerId)
                            .to(crate::Users::Table, crate::Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in INDEXED {
            let mut index = Index::create();
            index.name(*name).table(Customers::Table);
            for column in *columns {
                index.col(column.clone());
            }
            if name.starts_with("ux_") {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Customers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum Customers {
    Table,
    Id,
    TenantId,
    Code,
    Name,
    Kind,
    Industry,
    Region,
    OwnerId,
    Stage,
    Needs,
    Tier,
    TierScore,
    TierReasons,
    TierEvaluatedAt,
    CustomFields,
    QualityFlags,
    CreatedAt,
    UpdatedAt,
}
