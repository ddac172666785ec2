//! Customers: the archive at the centre of the 360° view.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::Id;
use super::validation::{self, ValidationErrors};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CustomerKind {
    Company,
    Person,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum LifecycleStage {
    Lead,
    Prospect,
    Customer,
    Churned,
}

/// Gaps in a customer's archive that someone should fill; recomputed on every write.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum QualityFlag {
    NoContact,
    NoNeedRecorded,
    NoOwner,
    NoIndustry,
}

/// The customer's tier as last decided by a tiering policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TierAssignment {
    pub tier: String,
    pub score: Option<f64>,
    pub reasons: Vec<String>,
    pub evaluated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Customer {
    pub id: Id,
    /// Unique within the tenant, e.g. `C2024001`.
    pub code: String,
    pub name: String,
    pub kind: CustomerKind,
    pub industry: Option<String>,
    pub region: Option<String>,
    /// Tax or VAT number in normalised form (see [`normalize_tax_id`]).
    pub tax_id: Option<String>,
    pub owner_id: Option<Id>,
    pub stage: LifecycleStage,
    /// Needs recorded for this customer (free text).
    pub needs: Option<String>,
    pub tier: Option<TierAssignment>,
    pub tags: Vec<String>,
    /// Values validated against the tenant's custom-field schema.
    #[schema(value_type = Object)]
    pub custom_fields: Value,
    pub quality_flags: Vec<QualityFlag>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    pub code: String,
    pub name: String,
    pub kind: CustomerKind,
    pub industry: Option<String>,
    pub region: Option<String>,
    /// Tax or VAT number; stored normalised (upper case, without spaces, `.`, `-` or `/`),
    /// e.g. ` be 0477.472.701 ` becomes `BE0477472701`.
    pub tax_id: Option<String>,
    pub owner_id: Option<Id>,
    /// Defaults to `lead`.
    pub stage: Option<LifecycleStage>,
    pub needs: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
}

/// A partial update: absent fields are kept, `null` clears a nullable field.
#[serde_with::serde_as]
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    pub code: Option<String>,
    pub name: Option<String>,
    pub kind: Option<CustomerKind>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub industry: Option<Option<String>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub region: Option<Option<String>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub tax_id: Option<Option<String>>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<i64>)]
    pub owner_id: Option<Option<Id>>,
    pub stage: Option<LifecycleStage>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub needs: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
}

/// The writable fields of a customer, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerFields {
    pub code: String,
    pub name: String,
    pub kind: CustomerKind,
    pub industry: Option<String>,
    pub region: Option<String>,
    /// Normalised by [`normalize_tax_id`] once validated.
    pub tax_id: Option<String>,
    pub owner_id: Option<Id>,
    pub stage: LifecycleStage,
    pub needs: Option<String>,
    pub tags: Vec<String>,
    pub custom_fields: Value,
}

impl CustomerInput {
    pub fn validate(
        self,
        custom_field_schema: Option<&Value>,
    ) -> Result<CustomerFields, ValidationErrors> {
        CustomerFields {
            code: self.code,
            name: self.name,
            kind: self.kind,
            industry: self.industry,
            region: self.region,
            tax_id: self.tax_id,
            owner_id: self.owner_id,
            stage: self.stage.unwrap_or(LifecycleStage::Lead),
            needs: self.needs,
            tags: self.tags,
            custom_fields: self
                .custom_fields
                .unwrap_or_else(|| Value::Object(Default::default())),
        }
        .validate(custom_field_schema)
    }
}

impl CustomerPatch {
    /// Applies the patch over the current fields and validates the result as a whole.
    pub fn apply(
        self,
        current: CustomerFields,
        custom_field_schema: Option<&Value>,
    ) -> Result<CustomerFields, ValidationErrors> {
        CustomerFields {
            code: self.code.unwrap_or(current.code),
            name: self.name.unwrap_or(current.name),
            kind: self.kind.unwrap_or(current.kind),
            industry: self.industry.unwrap_or(current.industry),
            region: self.region.unwrap_or(current.region),
            tax_id: self.tax_id.unwrap_or(current.tax_id),
            owner_id: self.owner_id.unwrap_or(current.owner_id),
            stage: self.stage.unwrap_or(current.stage),
            needs: self.needs.unwrap_or(current.needs),
            tags: self.tags.unwrap_or(current.tags),
            custom_fields: self.custom_fields.unwrap_or(current.custom_fields),
        }
        .validate(custom_field_schema)
    }
}

impl CustomerFields {
    fn validate(self, custom_field_schema: Option<&Value>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let code = validation::identifier(&mut errors, "code", &self.code, 32);
        let name = validation::required_text(&mut errors, "name", &self.name, 200);
        let industry =
            validation::optional_text(&mut errors, "industry", self.industry.as_deref(), 100);
        let region = validation::optional_text(&mut errors, "region", self.region.as_deref(), 100);
        let tax_id = tax_id(&mut errors, self.tax_id.as_deref());
        let needs = validation::optional_text(&mut errors, "needs", self.needs.as_deref(), 4000);
        let tags = tags(&mut errors, self.tags);
        custom_fields(&mut errors, custom_field_schema, &self.custom_fields);
        errors.into_result(())?;
        Ok(CustomerFields {
            code: code.unwrap_or_default(),
            name: name.unwrap_or_default(),
            industry,
            region,
            tax_id,
            needs,
            tags,
            ..self
        })
    }
}

impl From<&Customer> for CustomerFields {
    fn from(customer: &Customer) -> Self {
        CustomerFields {
            code: customer.code.clone(),
            name: customer.name.clone(),
            kind: customer.kind,
            industry: customer.industry.clone(),
            region: customer.region.clone(),
            tax_id: customer.tax_id.clone(),
            owner_id: customer.owner_id,
            stage: customer.stage,
            needs: customer.needs.clone(),
            tags: customer.tags.clone(),
            custom_fields: customer.custom_fields.clone(),
        }
    }
}

/// Length bounds of a normalised tax id, in characters.
pub const TAX_ID_CHARS: std::ops::RangeInclusive<usize> = 2..=32;

/// The one stored form of a tax or VAT number: ASCII letters upper-cased, whitespace, `.`, `-`
/// and `/` removed; `None` when nothing is left.
///
/// Tax ids are normalised because an ERP connector's sync matches its customers to ours on
/// them: ` be 0477.472.701 ` typed in the CRM and `BE0477472701` in the ERP are one company, and
/// exact equality on the normalised form (indexed per tenant) is what finds it. Callers matching
/// on a tax id normalise the other side with this same function. Only ASCII letters change case,
/// so a non-ASCII character survives and is refused by validation rather than folded into
/// something that looks valid.
pub fn normalize_tax_id(raw: &str) -> Option<String> {
    let normalised: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-' | '/'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (!normalised.is_empty()).then_some(normalised)
}

/// Normalises an optional tax id and checks it: 2–32 ASCII letters or digits once normalised.
/// Blank becomes `None`.
fn tax_id(errors: &mut ValidationErrors, raw: Option<&str>) -> Option<String> {
    let normalised = normalize_tax_id(raw?.trim())?;
    if TAX_ID_CHARS.contains(&normalised.chars().count())
        && normalised.chars().all(|c| c.is_ascii_alphanumeric())
    {
        Some(normalised)
    } else {
        errors.add(
            "tax_id",
            "invalid_tax_id",
            format!(
                "tax_id must be {}-{} ASCII letters or digits once spaces, '.', '-' and '/' are removed",
                TAX_ID_CHARS.start(),
                TAX_ID_CHARS.end()
            ),
        );
        None
    }
}

pub const MAX_TAGS: usize = 50;

/// Trims, de-duplicates and sorts tags so that the stored set has one canonical form.
fn tags(errors: &mut ValidationErrors, raw: Vec<String>) -> Vec<String> {
    if raw.len() > MAX_TAGS {
        errors.add("tags", "too_many", format!("at most {MAX_TAGS} tags"));
        return Vec::new();
    }
    let mut tags: Vec<String> = raw
        .iter()
        .filter_map(|tag| validation::required_text(errors, "tags", tag, 50))
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

fn custom_fields(errors: &mut ValidationErrors, schema: Option<&Value>, value: &Value) {
    if !value.is_object() {
        errors.add(
            "custom_fields",
            "not_an_object",
            "custom_fields must be a JSON object",
        );
        return;
    }
    let Some(schema) = schema else { return };
    let validator = match jsonschema::validator_for(schema) {
        Ok(validator) => validator,
        Err(_) => {
            errors.add(
                "custom_fields",
                "invalid_schema",
                "the tenant's custom-field schema is invalid",
            );
            return;
        }
    };
    for error in validator.iter_errors(value) {
        let path = error.instance_path().to_string();
        let field = if path.is_empty() {
            "custom_fields".to_owned()
        } else {
            format!("custom_fields{path}")
        };
        errors.add(field, "schema_violation", error.to_string());
    }
}

/// Checks that a tenant-supplied custom-field schema is itself a valid JSON Schema object.
pub fn validate_custom_field_schema(schema: &Value) -> Result<(), ValidationErrors> {
    if !schema.is_object() {
        return Err(ValidationErrors::single(
            "custom_field_schema",
            "not_an_object",
            "the schema must be a JSON object",
        ));
    }
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|error| {
            ValidationErrors::single("custom_field_schema", "invalid_schema", error.to_string())
        })
}

/// The archive gaps of a customer, given whether it has at least one contact.
pub fn quality_flags(fields: &CustomerFields, has_contact: bool) -> Vec<QualityFlag> {
    let mut flags = Vec::new();
    if !has_contact {
        flags.push(QualityFlag::NoContact);
    }
    if fields.needs.is_none() {
        flags.push(QualityFlag::NoNeedRecorded);
    }
    if fields.owner_id.is_none() {
        flags.push(QualityFlag::NoOwner);
    }
    if fields.industry.is_none() {
        flags.push(QualityFlag::NoIndustry);
    }
    flags
}

/// Non-null columns a customer list can be ordered by (keyset pagination needs total orders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, strum::EnumString, strum::IntoStaticStr)]
pub enum CustomerSortKey {
    #[strum(serialize = "code")]
    Code,
    #[strum(serialize = "name")]
    Name,
    #[default]
    #[strum(serialize = "created_at")]
    CreatedAt,
    #[strum(serialize = "updated_at")]
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CustomerSort {
    pub key: CustomerSortKey,
    pub descending: bool,
}

impl std::str::FromStr for CustomerSort {
    type Err = ValidationErrors;

    /// `name` sorts ascending, `-name` descending.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (descending, key) = match text.strip_prefix('-') {
            Some(key) => (true, key),
            None => (false, text),
        };
        let key = key.parse().map_err(|_| {
            ValidationErrors::single("sort", "invalid_sort", "sort must be one of code, name, created_at, updated_at, optionally prefixed with '-'")
        })?;
        Ok(CustomerSort { key, descending })
    }
}

impl std::fmt::Display for CustomerSort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key: &'static str = self.key.into();
        write!(f, "{}{key}", if self.descending { "-" } else { "" })
    }
}

/// Filters of the customer list; all optional and combined with AND.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub tag: Option<String>,
    pub tier: Option<String>,
    pub owner_id: Option<Id>,
    pub stage: Option<LifecycleStage>,
    pub industry: Option<String>,
    /// Case-insensitive substring of the name or code.
    pub search: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input() -> CustomerInput {
        serde_json::from_value(
            json!({"code": "C2024001", "name": " Xingyun Tech ", "kind": "company",
            "tags": ["b", "a", "b"]}),
        )
        .unwrap()
    }

    #[test]
    fn input_is_trimmed_defaulted_and_tags_canonical() {
        let fields = input().validate(None).unwrap();
        assert_eq!(fields.name, "Xingyun Tech");
        assert_eq!(fields.stage, LifecycleStage::Lead);
        assert_eq!(fields.tags, ["a", "b"]);
        assert_eq!(
            quality_flags(&fields, false),
            [
                QualityFlag::NoContact,
                QualityFlag::NoNeedRecorded,
                QualityFlag::NoOwner,
                QualityFlag::NoIndustry
            ]
        );
    }

    #[test]
    fn custom_fields_follow_the_tenant_schema() {
        let schema = json!({"type": "object", "properties": {"contract_end": {"type": "string", "format": "date"},
            "seats": {"type": "integer", "minimum": 1}}, "additionalProperties": false});
        let mut bad = input();
        bad.custom_fields = Some(json!({"seats": 0, "color": "red"}));
        let errors = bad.validate(Some(&schema)).unwrap_err();
        assert!(errors.0.iter().all(|e| e.code == "schema_violation"));
        assert_eq!(errors.0.len(), 2);
        let mut good = input();
        good.custom_fields = Some(json!({"seats": 12}));
        assert!(good.validate(Some(&schema)).is_ok());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let error = serde_json::from_value::<CustomerInput>(
            json!({"code": "C1", "name": "n", "kind": "person", "tenant_id": 2}),
        );
        assert!(error.is_err());
    }

    #[test]
    fn tax_ids_are_normalised() {
        assert_eq!(
            normalize_tax_id(" be 0477.472.701 ").as_deref(),
            Some("BE0477472701")
        );
        assert_eq!(
            normalize_tax_id("de-123/456\u{a0}789\t").as_deref(),
            Some("DE123456789")
        );
        assert_eq!(
            normalize_tax_id("gb123456789").as_deref(),
            Some("GB123456789")
        );
        assert_eq!(normalize_tax_id(" . - / "), None);
        assert_eq!(normalize_tax_id(""), None);
        // Only ASCII letters change case: `ß` is not folded into a valid-looking `SS`.
        assert_eq!(normalize_tax_id("deß1").as_deref(), Some("DEß1"));
    }

    fn with_tax_id(tax_id: &str) -> Result<CustomerFields, ValidationErrors> {
        let mut input = input();
        input.tax_id = Some(tax_id.to_owned());
        input.validate(None)
    }

    #[test]
    fn tax_ids_are_stored_normalised_and_checked() {
        assert_eq!(
            with_tax_id(" be 0477.472.701 ").unwrap().tax_id.as_deref(),
            Some("BE0477472701")
        );
        assert_eq!(
            with_tax_id("  ").unwrap().tax_id,
            None,
            "blank is no tax id"
        );
        assert_eq!(with_tax_id("-./").unwrap().tax_id, None);
        assert_eq!(with_tax_id("ab").unwrap().tax_id.as_deref(), Some("AB"));
        let longest = "9".repeat(32);
        assert_eq!(with_tax_id(&longest).unwrap().tax_id, Some(longest));
        for bad in [
            "!!",
            "A",
            "BE0477_472701",
            "DEß1",
            &"1".repeat(33),
            &"x".repeat(40),
        ] {
            let errors = with_tax_id(bad).unwrap_err();
            assert_eq!(errors.0.len(), 1, "{bad}");
            assert_eq!(errors.0[0].field, "tax_id", "{bad}");
            assert_eq!(errors.0[0].code, "invalid_tax_id", "{bad}");
        }
    }

    #[test]
    fn a_patch_sets_keeps_or_clears_the_tax_id() {
        let current = with_tax_id("BE0477472701").unwrap();
        let patch = |body: serde_json::Value| {
            serde_json::from_value::<CustomerPatch>(body)
                .unwrap()
                .apply(current.clone(), None)
        };
        assert_eq!(
            patch(json!({"name": "Renamed"})).unwrap().tax_id.as_deref(),
            Some("BE0477472701")
        );
        assert_eq!(
            patch(json!({"tax_id": "fr 40 303 265 045"}))
                .unwrap()
                .tax_id
                .as_deref(),
            Some("FR40303265045")
        );
        assert_eq!(patch(json!({"tax_id": null})).unwrap().tax_id, None);
        assert_eq!(
            patch(json!({"tax_id": "!!"})).unwrap_err().0[0].field,
            "tax_id"
        );
    }

    #[test]
    fn sort_parses_direction_and_key() {
        let sort: CustomerSort = "-name".parse().unwrap();
        assert_eq!(
            sort,
            CustomerSort {
                key: CustomerSortKey::Name,
                descending: true
            }
        );
        assert_eq!(sort.to_string(), "-name");
        assert!("-salary".parse::<CustomerSort>().is_err());
    }
}
