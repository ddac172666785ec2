use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Users join a department, and their role moves from `users.role` into casbin grouping lines
/// (`g, user:<id>, <role>, <tenant id>`), where a user may hold several. The old coarse
/// `member` becomes `account-manager`.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(big_integer_null(Users::DepartmentId))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO casbin_rules (ptype, v0, v1, v2) \
                 SELECT 'g', 'user:' || CAST(id AS TEXT), \
                        CASE role WHEN 'member' THEN 'account-manager' ELSE role END, \
                        CAST(tenant_id AS TEXT) \
                 FROM users",
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::Role)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string(Users::Role).default("member"))
                    .to_owned(),
            )
            .await?;
        // The most privileged of a user's roles that the old scheme knew wins.
        let holds = |role: &str| {
            format!(
                "EXISTS (SELECT 1 FROM casbin_rules WHERE ptype = 'g' AND v1 = '{role}' \
                 AND v0 = 'user:' || CAST(users.id AS TEXT))"
            )
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "UPDATE users SET role = CASE WHEN {} THEN 'platform-admin' \
                 WHEN {} THEN 'tenant-admin' ELSE 'member' END",
                holds("platform-admin"),
                holds("tenant-admin")
            ))
            .await?;
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM casbin_rules WHERE ptype = 'g'")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::DepartmentId)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Role,
    DepartmentId,
}
