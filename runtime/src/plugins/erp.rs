//! Running an `erp-connector` plugin: its spec, a credentials check, and resumable reads of its
//! streams one page at a time.

use std::collections::HashSet;
use std::sync::Arc;

use super::bindings::erp::{ErpConnector, ErpConnectorPre};
use super::bindings::erp_types as wit;
use super::engine::{Invocation, LoadedComponent, PluginEngine};
use super::error::PluginError;
use super::host::{Grants, HostState};
use super::limits::Limits;
use super::tiering::reported;
use crate::domain::erp_records::{
    ConnectorSpec, ExternalCustomer, ExternalOrder, ExternalRecord, Page, ReadRequest, RecordKind,
    StreamDescriptor,
};

/// An ERP connector ready to run: linked once, instantiated afresh for every call, so a read
/// carries nothing over from the previous page but the cursor.
pub struct ErpPlugin {
    engine: Arc<PluginEngine>,
    pre: ErpConnectorPre<HostState>,
}

impl std::fmt::Debug for ErpPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErpPlugin")
    }
}

impl ErpPlugin {
    /// Links the component; fails when it does not implement the `erp-connector` world.
    pub fn new(
        engine: Arc<PluginEngine>,
        component: &LoadedComponent,
    ) -> Result<ErpPlugin, PluginError> {
        let pre = engine.link(component, "erp-connector", ErpConnectorPre::new)?;
        Ok(ErpPlugin { engine, pre })
    }

    /// The connector's configuration schema and streams.
    pub async fn spec(&self, grants: Arc<Grants>, limits: &Limits) -> Invocation<ConnectorSpec> {
        let pre = &self.pre;
        self.engine
            .invoke(limits, grants, async |store| {
                let connector: ErpConnector = pre.instantiate_async(&mut *store).await?;
                Ok(Ok(connector.call_spec(&mut *store).await?))
            })
            .await
            .and_then(|spec| check_spec(spec, limits))
    }

    /// Verifies the configuration and credentials against the ERP.
    pub async fn check(&self, grants: Arc<Grants>, limits: &Limits) -> Invocation<()> {
        let pre = &self.pre;
        self.engine
            .invoke(limits, grants, async |store| {
                let connector: ErpConnector = pre.instantiate_async(&mut *store).await?;
                let answer = connector.call_check(&mut *store).await?;
                Ok(answer.map_err(reported))
            })
            .await
    }

    /// Reads one page of `request.stream` after `request.cursor` (none: from the beginning).
    pub async fn read(
        &self,
        request: &ReadRequest,
        grants: Arc<Grants>,
        limits: &Limits,
    ) -> Invocation<Page> {
        let pre = &self.pre;
        self.engine
            .invoke(limits, grants, async |store| {
                let connector: ErpConnector = pre.instantiate_async(&mut *store).await?;
                let answer = connector
                    .call_read(
                        &mut *store,
                        &request.stream,
                        request.cursor.as_deref(),
                        request.page_size,
                    )
                    .await?;
                Ok(answer.map_err(reported))
            })
            .await
            .and_then(|page| check_page(page, limits))
    }
}

/// The spec must fit the output cap, carry a JSON config schema and name each stream once.
fn check_spec(spec: wit::ConnectorSpec, limits: &Limits) -> Result<ConnectorSpec, PluginError> {
    let streams_size: usize = spec.streams.iter().map(|s| 8 + s.name.len()).sum();
    limits.check_output(spec.config_schema.len() + streams_size)?;
    let config_schema = limits.check_schema(&spec.config_schema)?;
    let mut seen = HashSet::new();
    if let Some(bad) = spec
        .streams
        .iter()
        .find(|s| s.name.is_empty() || !seen.insert(s.name.as_str()))
    {
        return Err(PluginError::InvalidOutput(format!(
            "stream name {:?} is empty or declared twice",
            bad.name
        )));
    }
    Ok(ConnectorSpec {
        config_schema,
        streams: spec
            .streams
            .into_iter()
            .map(|s| StreamDescriptor {
                name: s.name,
                kind: match s.kind {
                    wit::RecordKind::Customer => RecordKind::Customer,
                    wit::RecordKind::Order => RecordKind::Order,
                },
            })
            .collect(),
    })
}

/// The page must fit the output cap, and a page announcing more must say where to resume.
fn check_page(page: wit::Page, limits: &Limits) -> Result<Page, PluginError> {
    let size = page.next_cursor.as_ref().map_or(0, String::len)
        + page.records.iter().map(record_size).sum::<usize>();
    limits.check_output(size)?;
    if page.has_more && page.next_cursor.is_none() {
        return Err(PluginError::InvalidOutput(
            "the page has more records but no next cursor to resume from".into(),
        ));
    }
    Ok(Page {
        records: page.records.into_iter().map(from_wit_record).collect(),
        next_cursor: page.next_cursor,
        has_more: page.has_more,
    })
}

/// A record's strings plus a small per-record overhead, so many empty records count too.
fn record_size(record: &wit::ExternalRecord) -> usize {
    let optional = |value: &Option<String>| value.as_ref().map_or(0, String::len);
    16 + match record {
        wit::ExternalRecord::Customer(c) => {
            c.external_id.len()
                + c.name.len()
                + optional(&c.tax_id)
                + optional(&c.email)
                + optional(&c.phone)
                + optional(&c.industry)
                + c.modified_at.len()
        }
        wit::ExternalRecord::Order(o) => {
            o.external_id.len()
                + o.customer_external_id.len()
                + o.amount.len()
                + o.currency.len()
                + o.ordered_at.len()
                + o.status.len()
                + o.modified_at.len()
        }
    }
}

fn from_wit_record(record: wit::ExternalRecord) -> ExternalRecord {
    match record {
        wit::ExternalRecord::Customer(c) => ExternalRecord::Customer(ExternalCustomer {
            external_id: c.external_id,
            name: c.name,
            is_company: c.is_company,
            tax_id: c.tax_id,
            email: c.email,
            phone: c.phone,
            industry: c.industry,
            modified_at: c.modified_at,
        }),
        wit::ExternalRecord::Order(o) => ExternalRecord::Order(ExternalOrder {
            external_id: o.external_id,
            customer_external_id: o.customer_external_id,
            amount: o.amount,
            currency: o.currency,
            ordered_at: o.ordered_at,
            status: o.status,
            modified_at: o.modified_at,
        }),
    }
}
