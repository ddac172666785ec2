//! A casbin adapter over sea-orm 2, since no maintained adapter supports it. It reads and
//! writes the `casbin_rules` table; a filter keeps the lines whose values match (empty filter
//! values match anything), which is how one tenant's policy is loaded.
//!
//! The runtime changes policy through `store::access` (which also bumps the tenant's revision);
//! the write half of this adapter serves casbin's own management API.

use async_trait::async_trait;
use casbin::{Adapter, Filter, Model};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use super::entity::casbin_rule;

#[derive(Clone)]
pub struct SeaOrmAdapter {
    db: DatabaseConnection,
    filtered: bool,
}

impl SeaOrmAdapter {
    pub fn new(db: DatabaseConnection) -> Self {
        SeaOrmAdapter {
            db,
            filtered: false,
        }
    }
}

const VALUE_COLUMNS: [casbin_rule::Column; 6] = [
    casbin_rule::Column::V0,
    casbin_rule::Column::V1,
    casbin_rule::Column::V2,
    casbin_rule::Column::V3,
    casbin_rule::Column::V4,
    casbin_rule::Column::V5,
];

fn adapter_error(error: impl std::error::Error + Send + Sync + 'static) -> casbin::Error {
    casbin::error::AdapterError(Box::new(error)).into()
}

fn values(row: &casbin_rule::Model) -> Vec<String> {
    let mut values = vec![
        row.v0.clone(),
        row.v1.clone(),
        row.v2.clone(),
        row.v3.clone(),
        row.v4.clone(),
        row.v5.clone(),
    ];
    while values.last().is_some_and(String::is_empty) {
        values.pop();
    }
    values
}

fn active_line(ptype: &str, rule: &[String]) -> casbin_rule::ActiveModel {
    let value = |index: usize| rule.get(index).map(String::as_str).unwrap_or_default();
    super::access::line(
        ptype,
        [value(0), value(1), value(2), value(3), value(4), value(5)],
    )
}

/// Lines of `ptype` whose values from `offset` on equal the non-empty `values`.
fn matching(ptype: &str, offset: usize, values: &[impl AsRef<str>]) -> Condition {
    let mut condition = Condition::all().add(casbin_rule::Column::Ptype.eq(ptype));
    for (index, value) in values.iter().enumerate() {
        let value = value.as_ref();
        if let Some(column) = VALUE_COLUMNS.get(offset + index)
            && !value.is_empty()
        {
            condition = condition.add(column.eq(value));
        }
    }
    condition
}

fn insert_into_model(model: &mut dyn Model, row: &casbin_rule::Model) {
    let section = &row.ptype[..1];
    if let Some(assertion) = model
        .get_mut_model()
        .get_mut(section)
        .and_then(|assertions| assertions.get_mut(&row.ptype))
    {
        assertion.get_mut_policy().insert(values(row));
    }
}

impl SeaOrmAdapter {
    async fn load(&self, model: &mut dyn Model, condition: Condition) -> casbin::Result<()> {
        let rows = casbin_rule::Entity::find()
            .filter(condition)
            .order_by_asc(casbin_rule::Column::Id)
            .all(&self.db)
            .await
            .map_err(adapter_error)?;
        for row in rows.iter().filter(|row| !row.ptype.is_empty()) {
            insert_into_model(model, row);
        }
        Ok(())
    }

    async fn delete(&self, condition: Condition) -> casbin::Result<bool> {
        let result = casbin_rule::Entity::delete_many()
            .filter(condition)
            .exec(&self.db)
            .await
            .map_err(adapter_error)?;
        Ok(result.rows_affected > 0)
    }
}

#[async_trait]
impl Adapter for SeaOrmAdapter {
    async fn load_policy(&mut self, model: &mut dyn Model) -> casbin::Result<()> {
        self.filtered = false;
        self.load(model, Condition::all()).await
    }

    async fn load_filtered_policy<'a>(
        &mut self,
        model: &mut dyn Model,
        filter: Filter<'a>,
    ) -> casbin::Result<()> {
        self.filtered = true;
        let condition = Condition::any()
            .add(matching("p", 0, &filter.p))
            .add(matching("g", 0, &filter.g));
        self.load(model, condition).await
    }

    async fn save_policy(&mut self, model: &mut dyn Model) -> casbin::Result<()> {
        let mut lines = Vec::new();
        for section in ["p", "g"] {
            if let Some(assertions) = model.get_model().get(section) {
                for (ptype, assertion) in assertions {
                    lines.extend(
                        assertion
                            .get_policy()
                            .iter()
                            .map(|rule| active_line(ptype, rule)),
                    );
                }
            }
        }
        let tx = self.db.begin().await.map_err(adapter_error)?;
        casbin_rule::Entity::delete_many()
            .exec(&tx)
            .await
            .map_err(adapter_error)?;
        if !lines.is_empty() {
            casbin_rule::Entity::insert_many(lines)
                .exec(&tx)
                .await
                .map_err(adapter_error)?;
        }
        tx.commit().await.map_err(adapter_error)
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        self.delete(Condition::all()).await.map(|_| ())
    }

    fn is_filtered(&self) -> bool {
        self.filtered
    }

    async fn add_policy(
        &mut self,
        _section: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        self.add_policies(_section, ptype, vec![rule]).await
    }

    async fn add_policies(
        &mut self,
        _section: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        if rules.is_empty() {
            return Ok(false);
        }
        casbin_rule::Entity::insert_many(rules.iter().map(|rule| active_line(ptype, rule)))
            .exec(&self.db)
            .await
            .map_err(adapter_error)?;
        Ok(true)
    }

    async fn remove_policy(
        &mut self,
        _section: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        self.remove_policies(_section, ptype, vec![rule]).await
    }

    async fn remove_policies(
        &mut self,
        _section: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        let mut condition = Condition::any();
        for rule in &rules {
            let mut exact = Condition::all().add(casbin_rule::Column::Ptype.eq(ptype));
            for (index, column) in VALUE_COLUMNS.iter().enumerate() {
                exact = exact.add(column.eq(rule.get(index).cloned().unwrap_or_default()));
            }
            condition = condition.add(exact);
        }
        if rules.is_empty() {
            return Ok(false);
        }
        self.delete(condition).await
    }

    async fn remove_filtered_policy(
        &mut self,
        _section: &str,
        ptype: &str,
        field_index: usize,
        field_values: Vec<String>,
    ) -> casbin::Result<bool> {
        self.delete(matching(ptype, field_index, &field_values))
            .await
    }
}
