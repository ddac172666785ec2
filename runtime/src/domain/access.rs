//! Permissions: the catalogue of what can be granted, the built-in roles, record-level scope and
//! field-level masking. Pure rules; the casbin enforcer that evaluates them lives in `authz`.
//!
//! A permission is written `resource:action`, or `resource:action:scope` for resources whose
//! records belong to an owner (customers and their child records). Scopes nest: `all` includes
//! `team`, which includes `own`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Id;
use super::validation::{self, ValidationErrors};

/// How far a scoped permission reaches, narrowest first.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Scope {
    /// Records whose owner is the caller.
    Own,
    /// Records whose owner is in the caller's department.
    Team,
    /// Every record of the tenant.
    All,
}

impl Scope {
    /// Widest first: the order in which a check looks for a grant.
    pub const WIDEST_FIRST: [Scope; 3] = [Scope::All, Scope::Team, Scope::Own];
}

/// A grantable resource and the actions it knows.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    pub name: &'static str,
    pub actions: &'static [&'static str],
    /// Whether grants carry a record scope.
    pub scoped: bool,
    /// Only the platform tenant's roles may hold it.
    pub platform: bool,
}

const CRUD: &[&str] = &["read", "create", "update", "delete"];
const READ_WRITE: &[&str] = &["read", "write"];
/// Everything the service desk does with tickets.
const TICKET_WORK: &[&str] = &["read", "create", "update", "assign"];

pub const RESOURCES: &[Resource] = &[
    resource("tenants", &["manage"], false, true),
    resource("plugins", &["manage"], false, true),
    resource("tenant", &["read", "update"], false, false),
    resource("users", &["read", "create", "update"], false, false),
    resource("departments", &["read", "manage"], false, false),
    resource("roles", &["read", "manage"], false, false),
    resource("tokens", &["manage"], false, false),
    resource("audit", &["read"], false, false),
    resource(
        "tenant-plugins",
        &["read", "manage", "invoke"],
        false,
        false,
    ),
    resource(
        "customers",
        &["read", "create", "update", "delete", "handover"],
        true,
        false,
    ),
    resource("contacts", CRUD, true, false),
    resource("orders", CRUD, true, false),
    resource("interactions", CRUD, true, false),
    resource("satisfaction", CRUD, true, false),
    resource("tasks", CRUD, true, false),
    resource("automation", &["read", "manage"], false, false),
    resource(
        "tickets",
        &["read", "create", "update", "assign"],
        true,
        false,
    ),
    resource("service", &["read", "manage"], false, false),
    resource("knowledge", &["read", "write"], false, false),
    resource("surveys", &["read", "send"], true, false),
    resource("survey-settings", &["read", "manage"], false, false),
    resource("sync", &["read", "run", "review", "manage"], false, false),
    resource(
        SensitiveField::ContactPhone.resource(),
        READ_WRITE,
        false,
        false,
    ),
    resource(
        SensitiveField::ContactEmail.resource(),
        READ_WRITE,
        false,
        false,
    ),
    resource(
        SensitiveField::ContactWechatId.resource(),
        READ_WRITE,
        false,
        false,
    ),
    resource(
        SensitiveField::OrderAmount.resource(),
        READ_WRITE,
        false,
        false,
    ),
    resource(
        SensitiveField::CustomerSensitiveFields.resource(),
        READ_WRITE,
        false,
        false,
    ),
];

const fn resource(
    name: &'static str,
    actions: &'static [&'static str],
    scoped: bool,
    platform: bool,
) -> Resource {
    Resource {
        name,
        actions,
        scoped,
        platform,
    }
}

pub fn find_resource(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|resource| resource.name == name)
}

/// One grant: `resource` may `action`, within `scope` for scoped resources.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    pub resource: String,
    pub action: String,
    pub scope: Option<Scope>,
}

impl Permission {
    /// The casbin `act` value: the action, with its scope for scoped resources.
    pub fn casbin_action(&self) -> String {
        match self.scope {
            Some(scope) => format!("{}:{}", self.action, <&str>::from(scope)),
            None => self.action.clone(),
        }
    }

    /// Reads a casbin `(obj, act)` pair back; `None` for lines this version does not know.
    pub fn from_casbin(resource: &str, action: &str) -> Option<Permission> {
        format!("{resource}:{action}").parse().ok()
    }

    pub fn is_platform(&self) -> bool {
        find_resource(&self.resource).is_some_and(|resource| resource.platform)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.resource, self.casbin_action())
    }
}

impl std::str::FromStr for Permission {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = text.split(':');
        let (Some(name), Some(action)) = (parts.next(), parts.next()) else {
            return Err(format!("{text:?} is not resource:action"));
        };
        let scope = parts.next();
        if parts.next().is_some() {
            return Err(format!("{text:?} has too many parts"));
        }
        let resource = find_resource(name).ok_or_else(|| format!("unknown resource {name:?}"))?;
        if !resource.actions.contains(&action) {
            return Err(format!(
                "{name} knows the actions {}",
                resource.actions.join(", ")
            ));
        }
        let scope = match (resource.scoped, scope) {
            (true, Some(scope)) => Some(
                scope
                    .parse::<Scope>()
                    .map_err(|_| format!("scope must be own, team or all, not {scope:?}"))?,
            ),
            (true, None) => {
                return Err(format!("{name} permissions need a scope: own, team or all"));
            }
            (false, Some(_)) => return Err(format!("{name} permissions take no scope")),
            (false, None) => None,
        };
        Ok(Permission {
            resource: name.to_owned(),
            action: action.to_owned(),
            scope,
        })
    }
}

/// Reads a list of permission strings, naming every bad one.
pub fn parse_permissions(
    field: &str,
    texts: &[String],
) -> Result<BTreeSet<Permission>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut permissions = BTreeSet::new();
    for (index, text) in texts.iter().enumerate() {
        match text.parse::<Permission>() {
            Ok(permission) => {
                permissions.insert(permission);
            }
            Err(message) => errors.add(format!("{field}[{index}]"), "invalid_permission", message),
        }
    }
    errors.into_result(permissions)
}

/// The fields masked or omitted unless a role may read them, and refused unless it may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, strum::EnumIter)]
pub enum SensitiveField {
    ContactPhone,
    ContactEmail,
    ContactWechatId,
    OrderAmount,
    /// Every custom field the tenant's schema marks `"x-sensitive": true`.
    CustomerSensitiveFields,
}

impl SensitiveField {
    pub const fn resource(self) -> &'static str {
        match self {
            SensitiveField::ContactPhone => "contact.phone",
            SensitiveField::ContactEmail => "contact.email",
            SensitiveField::ContactWechatId => "contact.wechat_id",
            SensitiveField::OrderAmount => "order.amount",
            SensitiveField::CustomerSensitiveFields => "customer.sensitive_fields",
        }
    }
}

/// What the caller may see and change of the sensitive fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldAccess {
    pub readable: BTreeSet<SensitiveField>,
    pub writable: BTreeSet<SensitiveField>,
}

impl FieldAccess {
    pub fn everything() -> FieldAccess {
        use strum::IntoEnumIterator;
        let all: BTreeSet<_> = SensitiveField::iter().collect();
        FieldAccess {
            readable: all.clone(),
            writable: all,
        }
    }

    pub fn can_read(&self, field: SensitiveField) -> bool {
        self.readable.contains(&field)
    }

    /// Refuses a write of `field` the caller may not make.
    pub fn check_write(&self, field: SensitiveField) -> Result<(), FieldForbidden> {
        if self.writable.contains(&field) {
            Ok(())
        } else {
            Err(FieldForbidden(field.resource()))
        }
    }
}

/// A write touched a sensitive field the caller may not write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("your role may not change {0}")]
pub struct FieldForbidden(pub &'static str);

/// `13812341234` → `138****1234`; `+8613812341234` → `+86138****1234`. Short values keep only
/// their last two characters.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() >= 11 {
        let shown_prefix = chars.len() - 8;
        let prefix: String = chars[..shown_prefix].iter().collect();
        let suffix: String = chars[chars.len() - 4..].iter().collect();
        format!("{prefix}****{suffix}")
    } else {
        let keep = chars.len().min(2);
        let suffix: String = chars[chars.len() - keep..].iter().collect();
        format!("****{suffix}")
    }
}

/// `zhang.wei@example.com` → `z***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", first_char(local)),
        None => mask_text(email),
    }
}

/// Keeps the first character only: `wxid_abc123` → `w***`.
pub fn mask_text(text: &str) -> String {
    format!("{}***", first_char(text))
}

fn first_char(text: &str) -> String {
    text.chars().next().map(String::from).unwrap_or_default()
}

/// Which records a scoped permission lets the caller reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    All,
    /// Records owned by one user.
    OwnedBy(Id),
    /// Records owned by anyone in a department.
    Department(Id),
}

impl Visibility {
    /// The reach of `scope` for a caller; `team` without a department is `own`.
    pub fn of(scope: Scope, user_id: Id, department_id: Option<Id>) -> Visibility {
        match (scope, department_id) {
            (Scope::All, _) => Visibility::All,
            (Scope::Team, Some(department)) => Visibility::Department(department),
            (Scope::Team, None) | (Scope::Own, _) => Visibility::OwnedBy(user_id),
        }
    }
}

/// A role as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Role {
    pub name: String,
    pub description: String,
    /// Built-in roles cannot be deleted; `tenant-admin` and `platform-admin` cannot be changed.
    pub built_in: bool,
    /// Sorted permission strings, e.g. `customers:read:team`.
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    /// Lower-case letters, digits and `-`; not the name of a built-in role.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Permission strings, e.g. `customers:read:team`.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// A validated new role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRole {
    pub name: String,
    pub description: String,
    pub permissions: BTreeSet<Permission>,
}

impl RoleInput {
    pub fn validate(self) -> Result<NewRole, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = validation::identifier(&mut errors, "name", &self.name, 50)
            .map(|name| name.to_ascii_lowercase());
        if name.as_deref().and_then(built_in_role).is_some() {
            errors.add(
                "name",
                "reserved_role",
                "this is the name of a built-in role",
            );
        }
        if self.description.chars().count() > 500 {
            errors.add("description", "too_long", "at most 500 characters");
        }
        let permissions = parse_permissions("permissions", &self.permissions)
            .map_err(|permission_errors| errors.0.extend(permission_errors.0))
            .ok();
        if let Some(permissions) = &permissions {
            reject_platform_permissions(&mut errors, "permissions", permissions);
        }
        errors.into_result(())?;
        Ok(NewRole {
            name: name.expect("no errors"),
            description: self.description.trim().to_owned(),
            permissions: permissions.expect("no errors"),
        })
    }
}

/// Platform permissions exist only in the platform tenant's built-in role.
pub fn reject_platform_permissions(
    errors: &mut ValidationErrors,
    field: &str,
    permissions: &BTreeSet<Permission>,
) {
    for permission in permissions.iter().filter(|p| p.is_platform()) {
        errors.add(
            field,
            "platform_permission",
            format!("{permission} belongs to the platform administrator only"),
        );
    }
}

/// The effective permissions of a user: the union over their roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EffectivePermissions {
    pub user_id: Id,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

pub const PLATFORM_ADMIN: &str = "platform-admin";
pub const TENANT_ADMIN: &str = "tenant-admin";
pub const MANAGER: &str = "manager";
pub const ACCOUNT_MANAGER: &str = "account-manager";
pub const SERVICE_AGENT: &str = "service-agent";
pub const VIEWER: &str = "viewer";

/// The role a new user gets when none is named.
pub const DEFAULT_ROLE: &str = ACCOUNT_MANAGER;

/// A role every tenant has from the start, with its default grants.
#[derive(Debug, Clone, Copy)]
pub struct BuiltInRole {
    pub name: &'static str,
    pub description: &'static str,
    /// Whether tenant admins may change its permissions.
    pub editable: bool,
    grants: fn() -> Vec<String>,
}

impl BuiltInRole {
    pub fn permissions(&self) -> BTreeSet<Permission> {
        (self.grants)()
            .iter()
            .map(|text| text.parse().expect("built-in grants are valid"))
            .collect()
    }
}

pub const BUILT_IN_ROLES: &[BuiltInRole] = &[
    BuiltInRole {
        name: PLATFORM_ADMIN,
        description: "Manages tenants and the plugin registry; administers the platform tenant.",
        editable: false,
        grants: platform_admin_grants,
    },
    BuiltInRole {
        name: TENANT_ADMIN,
        description: "Administers the tenant: users, roles, departments, plugins, every record and field.",
        editable: false,
        grants: tenant_admin_grants,
    },
    BuiltInRole {
        name: MANAGER,
        description: "Leads a department: every record owned in the department, sensitive fields included.",
        editable: true,
        grants: manager_grants,
    },
    BuiltInRole {
        name: ACCOUNT_MANAGER,
        description: "Owns customers: their own customers and child records, sensitive fields included.",
        editable: true,
        grants: account_manager_grants,
    },
    BuiltInRole {
        name: SERVICE_AGENT,
        description: "Serves any customer: reads everything, records interactions and satisfaction; sees phone numbers but no other sensitive field.",
        editable: true,
        grants: service_agent_grants,
    },
    BuiltInRole {
        name: VIEWER,
        description: "Reads every customer record; every sensitive field is masked.",
        editable: true,
        grants: viewer_grants,
    },
];

pub fn built_in_role(name: &str) -> Option<&'static BuiltInRole> {
    BUILT_IN_ROLES.iter().find(|role| role.name == name)
}

/// The built-in roles of a tenant; the platform tenant also has `platform-admin`.
pub fn built_in_roles_for(platform: bool) -> impl Iterator<Item = &'static BuiltInRole> {
    BUILT_IN_ROLES
        .iter()
        .filter(move |role| platform || role.name != PLATFORM_ADMIN)
}

const CHILDREN: &[&str] = &["contacts", "orders", "interactions", "satisfaction"];

fn grants_on(resources: &[&str], actions: &[&str], scope: Option<&str>) -> Vec<String> {
    let mut grants = Vec::new();
    for resource in resources {
        for action in actions {
            grants.push(match scope {
                Some(scope) => format!("{resource}:{action}:{scope}"),
                None => format!("{resource}:{action}"),
            });
        }
    }
    grants
}

fn field_grants(fields: &[SensitiveField], actions: &[&str]) -> Vec<String> {
    let names: Vec<&str> = fields.iter().map(|field| field.resource()).collect();
    grants_on(&names, actions, None)
}

fn all_fields() -> Vec<SensitiveField> {
    use strum::IntoEnumIterator;
    SensitiveField::iter().collect()
}

fn directory_reads() -> Vec<String> {
    grants_on(&["tenant", "users", "departments"], &["read"], None)
}

fn platform_admin_grants() -> Vec<String> {
    let mut grants = tenant_admin_grants();
    grants.extend(grants_on(&["tenants", "plugins"], &["manage"], None));
    grants
}

fn tenant_admin_grants() -> Vec<String> {
    let mut grants = Vec::new();
    for resource in RESOURCES.iter().filter(|resource| !resource.platform) {
        let scope = resource.scoped.then_some("all");
        grants.extend(grants_on(&[resource.name], resource.actions, scope));
    }
    grants
}

fn manager_grants() -> Vec<String> {
    let mut grants = directory_reads();
    grants.extend(grants_on(
        &["roles", "audit", "tenant-plugins", "automation", "service"],
        &["read"],
        None,
    ));
    grants.extend(grants_on(&["tickets"], TICKET_WORK, Some("team")));
    grants.extend(grants_on(&["knowledge"], READ_WRITE, None));
    grants.extend(grants_on(&["surveys"], &["read", "send"], Some("team")));
    grants.extend(grants_on(&["survey-settings"], &["read"], None));
    grants.extend(grants_on(&["sync"], &["read", "review"], None));
    grants.extend(grants_on(
        &["customers"],
        &["read", "create", "update", "delete", "handover"],
        Some("team"),
    ));
    grants.extend(grants_on(CHILDREN, CRUD, Some("team")));
    grants.extend(grants_on(&["tasks"], CRUD, Some("team")));
    grants.extend(field_grants(&all_fields(), READ_WRITE));
    grants
}

fn account_manager_grants() -> Vec<String> {
    let mut grants = directory_reads();
    grants.extend(grants_on(
        &["customers"],
        &["read", "create", "update"],
        Some("own"),
    ));
    grants.extend(grants_on(CHILDREN, CRUD, Some("own")));
    grants.extend(grants_on(&["tasks"], CRUD, Some("own")));
    grants.extend(grants_on(
        &["tickets"],
        &["read", "create", "update"],
        Some("own"),
    ));
    grants.extend(grants_on(&["knowledge"], &["read"], None));
    grants.extend(grants_on(&["surveys"], &["read", "send"], Some("own")));
    grants.extend(field_grants(&all_fields(), READ_WRITE));
    grants
}

fn service_agent_grants() -> Vec<String> {
    let mut grants = directory_reads();
    grants.extend(grants_on(
        &["customers", "contacts", "orders"],
        &["read"],
        Some("all"),
    ));
    grants.extend(grants_on(
        &["interactions", "satisfaction"],
        &["read", "create", "update"],
        Some("all"),
    ));
    grants.extend(grants_on(
        &["tasks"],
        &["read", "create", "update"],
        Some("own"),
    ));
    grants.extend(grants_on(&["tickets"], TICKET_WORK, Some("all")));
    grants.extend(grants_on(&["knowledge", "service"], &["read"], None));
    grants.extend(grants_on(&["knowledge"], &["write"], None));
    grants.extend(grants_on(&["surveys"], &["read"], Some("all")));
    grants.extend(field_grants(&[SensitiveField::ContactPhone], &["read"]));
    grants
}

fn viewer_grants() -> Vec<String> {
    let mut grants = directory_reads();
    grants.extend(grants_on(&["customers"], &["read"], Some("all")));
    grants.extend(grants_on(CHILDREN, &["read"], Some("all")));
    grants.extend(grants_on(
        &["tasks", "tickets", "surveys"],
        &["read"],
        Some("all"),
    ));
    grants.extend(grants_on(&["knowledge"], &["read"], None));
    grants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_round_trip_and_bad_ones_say_why() {
        let permission: Permission = "customers:read:team".parse().unwrap();
        assert_eq!(permission.scope, Some(Scope::Team));
        assert_eq!(permission.to_string(), "customers:read:team");
        assert_eq!(
            Permission::from_casbin("customers", "read:team"),
            Some(permission)
        );
        assert!("contact.phone:read".parse::<Permission>().is_ok());
        for (bad, why) in [
            ("customers:read", "need a scope"),
            ("customers:fly:all", "knows the actions"),
            ("tenant:read:all", "take no scope"),
            ("nothing:read", "unknown resource"),
            ("customers", "not resource:action"),
            ("customers:read:everyone", "scope must be"),
        ] {
            let error = bad.parse::<Permission>().unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn built_in_grants_are_valid_and_only_platform_admin_holds_platform_ones() {
        for role in BUILT_IN_ROLES {
            let permissions = role.permissions();
            assert!(!permissions.is_empty(), "{}", role.name);
            let platform = permissions.iter().any(Permission::is_platform);
            assert_eq!(platform, role.name == PLATFORM_ADMIN, "{}", role.name);
        }
    }

    #[test]
    fn masks_keep_just_enough_to_recognise_a_value() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("+8613812341234"), "+86138****1234");
        assert_eq!(mask_phone("12345"), "****45");
        assert_eq!(mask_email("zhang.wei@example.com"), "z***@example.com");
        assert_eq!(mask_text("wxid_abc123"), "w***");
    }

    #[test]
    fn team_without_a_department_is_own() {
        assert_eq!(Visibility::of(Scope::Team, 7, None), Visibility::OwnedBy(7));
        assert_eq!(
            Visibility::of(Scope::Team, 7, Some(3)),
            Visibility::Department(3)
        );
        assert_eq!(Visibility::of(Scope::All, 7, Some(3)), Visibility::All);
    }

    #[test]
    fn custom_roles_cannot_take_a_built_in_name_or_platform_grants() {
        let input = RoleInput {
            name: "manager".into(),
            description: String::new(),
            permissions: vec!["tenants:manage".into(), "bogus".into()],
        };
        let errors = input.validate().unwrap_err();
        let codes: Vec<&str> = errors.0.iter().map(|e| e.code).collect();
        assert!(codes.contains(&"reserved_role"), "{codes:?}");
        assert!(codes.contains(&"invalid_permission"), "{codes:?}");
    }
}
