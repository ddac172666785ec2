use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Casbin policy lines in the usual adapter layout: `ptype` (`p` or `g`) and up to six values.
/// For RBAC with domains, `p` lines are `(role, tenant, resource, action)` and `g` lines
/// `(user, role, tenant)`, so the tenant sits in `v1` or `v2`; both are indexed to load one
/// tenant's policy.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CasbinRules::Table)
                    .if_not_exists()
                    .col(big_pk_auto(CasbinRules::Id))
                    .col(string(CasbinRules::Ptype))
                    .col(string(CasbinRules::V0).default(""))
                    .col(string(CasbinRules::V1).default(""))
                    .col(string(CasbinRules::V2).default(""))
                    .col(string(CasbinRules::V3).default(""))
                    .col(string(CasbinRules::V4).default(""))
                    .col(string(CasbinRules::V5).default(""))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("ix_casbin_rules_ptype_v1", CasbinRules::V1),
            ("ix_casbin_rules_ptype_v2", CasbinRules::V2),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(CasbinRules::Table)
                        .col(CasbinRules::Ptype)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ux_casbin_rules_line")
                    .table(CasbinRules::Table)
                    .col(CasbinRules::Ptype)
                    .col(CasbinRules::V0)
                    .col(CasbinRules::V1)
                    .col(CasbinRules::V2)
                    .col(CasbinRules::V3)
                    .col(CasbinRules::V4)
                    .col(CasbinRules::V5)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CasbinRules::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone)]
enum CasbinRules {
    Table,
    Id,
    Ptype,
    V0,
    V1,
    V2,
    V3,
    V4,
    V5,
}
