//! Authorization with casbin: RBAC with domains, one domain per tenant.
//!
//! Each tenant gets its own enforcer, loaded with only that tenant's policy lines, so a check
//! never scans other tenants' rules. A check asks casbin once per user for the user's implicit
//! permissions in the tenant (roles resolved by casbin's role manager, with domains) and keeps
//! them as a set for the life of the loaded policy: later checks are a hash lookup, where
//! casbin's matcher would evaluate every policy line in rhai (milliseconds at 10k lines, see
//! `tests/benches/authorization.rs`). For this model, whose matcher is plain equality on
//! `(tenant, resource, action)` after role resolution, both give the same decisions; the
//! benchmark checks that they agree before measuring. A loaded enforcer remembers the tenant's
//! `authz_revision`; every request reads the current revision (one primary-key read) and a
//! changed revision makes this replica load the tenant's policy again. Any replica sharing the
//! database therefore applies a role or grant change on its next request; nothing needs a
//! message bus.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use casbin::{CoreApi, DefaultModel, Enforcer, Filter, RbacApi};
use sea_orm::DatabaseConnection;

use crate::domain::Id;
use crate::domain::access::{FieldAccess, Permission, Scope, SensitiveField};
use crate::store::casbin_adapter::SeaOrmAdapter;
use crate::store::{StoreError, access};

/// The casbin model, embedded: a request `(user, tenant, resource, action)` is allowed when one
/// of the user's roles in that tenant holds exactly that grant.
pub const MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
"#;

#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("casbin: {0}")]
    Casbin(#[from] casbin::Error),
}

/// A user's permissions: resource → actions (scoped actions carry their scope).
type Grants = HashMap<String, HashSet<String>>;

/// The loaded policy of one tenant.
pub struct TenantPolicy {
    tenant_id: Id,
    domain: String,
    revision: i64,
    enforcer: Enforcer,
    /// Each user's permissions, resolved by casbin on first use.
    grants: RwLock<HashMap<Id, Arc<Grants>>>,
}

impl std::fmt::Debug for TenantPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantPolicy")
            .field("tenant_id", &self.tenant_id)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

impl TenantPolicy {
    /// Loads a tenant's lines into a fresh enforcer.
    pub async fn load(
        db: &DatabaseConnection,
        tenant_id: Id,
        revision: i64,
    ) -> Result<TenantPolicy, AuthzError> {
        let model = DefaultModel::from_str(MODEL).await?;
        let mut enforcer = Enforcer::new_raw(model, SeaOrmAdapter::new(db.clone())).await?;
        let domain = access::domain(tenant_id);
        enforcer
            .load_filtered_policy(Filter {
                p: vec!["", &domain],
                g: vec!["", "", &domain],
            })
            .await?;
        Ok(TenantPolicy {
            tenant_id,
            domain,
            revision,
            enforcer,
            grants: RwLock::default(),
        })
    }

    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Whether one of the user's roles holds `resource:action` (action including any scope).
    pub fn allows(&self, user_id: Id, resource: &str, action: &str) -> bool {
        self.grants_of(user_id)
            .get(resource)
            .is_some_and(|actions| actions.contains(action))
    }

    /// The same decision through casbin's matcher, line by line; for checking [`Self::allows`].
    pub fn enforce(&self, user_id: Id, resource: &str, action: &str) -> bool {
        let subject = access::subject(user_id);
        self.enforcer
            .enforce((subject.as_str(), self.domain.as_str(), resource, action))
            .unwrap_or_else(|error| {
                tracing::error!(%error, resource, action, "casbin enforce failed; denying");
                false
            })
    }

    fn grants_of(&self, user_id: Id) -> Arc<Grants> {
        let known = self
            .grants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&user_id)
            .cloned();
        if let Some(grants) = known {
            return grants;
        }
        let grants = Arc::new(self.resolve(user_id));
        self.grants
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(user_id, grants.clone());
        grants
    }

    /// Asks casbin for every permission the user holds in the tenant through their roles; the
    /// cost of a user's first check. Returns resource → actions.
    pub fn resolve(&self, user_id: Id) -> HashMap<String, HashSet<String>> {
        let subject = access::subject(user_id);
        let mut grants = Grants::new();
        for line in self
            .enforcer
            .get_implicit_permissions_for_user(&subject, Some(&self.domain))
        {
            // `p` lines are (role, tenant, resource, action).
            if let [_, domain, resource, action, ..] = line.as_slice()
                && *domain == self.domain
            {
                grants
                    .entry(resource.clone())
                    .or_default()
                    .insert(action.clone());
            }
        }
        grants
    }

    /// The widest scope in which the user may `action` on a scoped `resource`.
    pub fn scope(&self, user_id: Id, resource: &str, action: &str) -> Option<Scope> {
        Scope::WIDEST_FIRST.into_iter().find(|scope| {
            let scoped = format!("{action}:{}", <&str>::from(*scope));
            self.allows(user_id, resource, &scoped)
        })
    }

    pub fn field_access(&self, user_id: Id) -> FieldAccess {
        use strum::IntoEnumIterator;
        let mut access = FieldAccess::default();
        for field in SensitiveField::iter() {
            if self.allows(user_id, field.resource(), "read") {
                access.readable.insert(field);
            }
            if self.allows(user_id, field.resource(), "write") {
                access.writable.insert(field);
            }
        }
        access
    }
}

/// Narrows a user's decision by an integration token's scopes (`None`: not narrowed).
pub fn token_allows(scopes: Option<&BTreeSet<Permission>>, resource: &str, action: &str) -> bool {
    scopes.is_none_or(|scopes| {
        scopes
            .iter()
            .any(|p| p.resource == resource && p.casbin_action() == action)
    })
}

/// The widest scope a token's scopes allow for `resource:action` (`All` when not narrowed).
pub fn token_scope(
    scopes: Option<&BTreeSet<Permission>>,
    resource: &str,
    action: &str,
) -> Option<Scope> {
    match scopes {
        None => Some(Scope::All),
        Some(scopes) => scopes
            .iter()
            .filter(|p| p.resource == resource && p.action == action)
            .filter_map(|p| p.scope)
            .max(),
    }
}

/// Every tenant's loaded policy, refreshed by revision.
#[derive(Debug)]
pub struct Authorizer {
    db: DatabaseConnection,
    loaded: RwLock<HashMap<Id, Arc<TenantPolicy>>>,
}

impl Authorizer {
    pub fn new(db: DatabaseConnection) -> Authorizer {
        Authorizer {
            db,
            loaded: RwLock::default(),
        }
    }

    /// The tenant's policy as of now: reloaded when the stored revision moved.
    pub async fn policy(&self, tenant_id: Id) -> Result<Arc<TenantPolicy>, AuthzError> {
        let revision = access::revision(&self.db, tenant_id).await?;
        if let Some(policy) = self.cached(tenant_id)
            && policy.revision == revision
        {
            return Ok(policy);
        }
        let policy = Arc::new(TenantPolicy::load(&self.db, tenant_id, revision).await?);
        tracing::debug!(tenant_id, revision, "loaded the tenant's permission policy");
        self.loaded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(tenant_id, policy.clone());
        Ok(policy)
    }

    fn cached(&self, tenant_id: Id) -> Option<Arc<TenantPolicy>> {
        self.loaded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&tenant_id)
            .cloned()
    }
}
