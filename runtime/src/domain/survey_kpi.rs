//! Monthly satisfaction KPIs, as the seeds' monthly review reads them: how satisfied customers
//! are (CSAT), how likely to recommend us (NPS), how hard it was for them (CES), how each survey
//! dimension scores and how many surveys get answered. Each figure comes with the previous
//! month's and the change, overall and, on demand, per tier, account owner or department.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Id;
use super::satisfaction::SatisfactionKind;
use super::service_kpi::{Metric, Month};

/// One survey response, with the groups of its customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiResponse {
    pub kind: SatisfactionKind,
    /// Within the kind's scale: CSAT 1–5, NPS 0–10, CES 1–7.
    pub score: i32,
    /// Dimension key → rating.
    pub dimensions: BTreeMap<String, i32>,
    pub answered_at: DateTime<Utc>,
    pub groups: KpiGroups,
}

/// One delivery that reached its contact (sent, or answered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiDelivery {
    pub sent_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub groups: KpiGroups,
}

/// The groups a customer belongs to, for the grouped figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KpiGroups {
    pub tier: Option<String>,
    pub owner_id: Option<Id>,
    pub department_id: Option<Id>,
}

/// What to group the figures by.
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
pub enum GroupBy {
    /// The customer's tier.
    Tier,
    /// The customer's account owner.
    Owner,
    /// The customer's department.
    Department,
}

/// The satisfaction figures of one month, each with the previous month's and the change.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SatisfactionFigures {
    /// Share of CSAT responses scoring 4 or 5, in percent (0–100); basis: CSAT responses.
    pub csat_percent: Metric,
    /// Percent of NPS responses scoring 9–10 minus percent scoring 0–6 (−100–100); basis: NPS
    /// responses.
    pub nps: Metric,
    /// Mean CES score (1–7, lower is easier); basis: CES responses.
    pub ces_mean: Metric,
    /// Answered deliveries over deliveries sent this month, in percent (0–100); basis:
    /// deliveries sent this month.
    pub response_rate: Metric,
    /// Dimension key → mean rating over the responses rating it; basis: those responses.
    pub dimension_means: BTreeMap<String, Metric>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GroupFigures {
    /// The tier name, or the owner/department id as text; `null` for customers without one.
    pub key: Option<String>,
    pub figures: SatisfactionFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SurveyKpis {
    pub month: String,
    pub previous_month: String,
    pub group_by: Option<GroupBy>,
    pub overall: SatisfactionFigures,
    /// One entry per group met in either month, ordered by key (`null` first, ids by number);
    /// empty without `group_by`.
    pub groups: Vec<GroupFigures>,
}

/// A value and how many responses or deliveries it is computed over.
type Figure = (Option<f64>, u64);

struct MonthFigures {
    csat: Figure,
    nps: Figure,
    ces: Figure,
    response_rate: Figure,
    dimensions: BTreeMap<String, Figure>,
}

fn percent(hits: usize, of: usize) -> Figure {
    let value = (of > 0).then(|| 100.0 * hits as f64 / of as f64);
    (value, of as u64)
}

fn mean(values: &[i32]) -> Figure {
    let value = (!values.is_empty())
        .then(|| values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64);
    (value, values.len() as u64)
}

fn figures(month: Month, responses: &[&KpiResponse], deliveries: &[&KpiDelivery]) -> MonthFigures {
    let contains = |at: DateTime<Utc>| month.start() <= at && at < month.end();
    let answered: Vec<&KpiResponse> = responses
        .iter()
        .copied()
        .filter(|r| contains(r.answered_at))
        .collect();
    let scores = |kind: SatisfactionKind| -> Vec<i32> {
        answered
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.score)
            .collect()
    };
    let csat = scores(SatisfactionKind::Csat);
    let nps = scores(SatisfactionKind::Nps);
    let promoters = nps.iter().filter(|&&s| s >= 9).count();
    let detractors = nps.iter().filter(|&&s| s <= 6).count();
    let nps_value = (!nps.is_empty())
        .then(|| 100.0 * (promoters as f64 - detractors as f64) / nps.len() as f64);
    let sent: Vec<&KpiDelivery> = deliveries
        .iter()
        .copied()
        .filter(|d| contains(d.sent_at))
        .collect();
    let mut ratings: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for response in &answered {
        for (key, &rating) in &response.dimensions {
            ratings.entry(key.clone()).or_default().push(rating);
        }
    }
    MonthFigures {
        csat: percent(csat.iter().filter(|&&s| s >= 4).count(), csat.len()),
        nps: (nps_value, nps.len() as u64),
        ces: mean(&scores(SatisfactionKind::Ces)),
        response_rate: percent(
            sent.iter().filter(|d| d.answered_at.is_some()).count(),
            sent.len(),
        ),
        dimensions: ratings
            .into_iter()
            .map(|(key, values)| (key, mean(&values)))
            .collect(),
    }
}

fn metric(current: Figure, previous: Figure) -> Metric {
    Metric {
        value: current.0,
        previous: previous.0,
        delta: current.0.zip(previous.0).map(|(now, before)| now - before),
        basis: current.1,
    }
}

fn compare(
    month: Month,
    responses: &[&KpiResponse],
    deliveries: &[&KpiDelivery],
) -> SatisfactionFigures {
    let now = figures(month, responses, deliveries);
    let before = figures(month.previous(), responses, deliveries);
    let keys: BTreeSet<&String> = now
        .dimensions
        .keys()
        .chain(before.dimensions.keys())
        .collect();
    let none: Figure = (None, 0);
    let dimension_means = keys
        .into_iter()
        .map(|key| {
            let current = now.dimensions.get(key).copied().unwrap_or(none);
            let previous = before.dimensions.get(key).copied().unwrap_or(none);
            (key.clone(), metric(current, previous))
        })
        .collect();
    SatisfactionFigures {
        csat_percent: metric(now.csat, before.csat),
        nps: metric(now.nps, before.nps),
        ces_mean: metric(now.ces, before.ces),
        response_rate: metric(now.response_rate, before.response_rate),
        dimension_means,
    }
}

/// A group's key, ordered as the groups are listed: ids by number, tiers by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum GroupKey {
    Id(Id),
    Name(String),
}

impl GroupKey {
    fn of(group_by: GroupBy, groups: &KpiGroups) -> Option<GroupKey> {
        match group_by {
            GroupBy::Tier => groups.tier.clone().map(GroupKey::Name),
            GroupBy::Owner => groups.owner_id.map(GroupKey::Id),
            GroupBy::Department => groups.department_id.map(GroupKey::Id),
        }
    }

    fn label(self) -> String {
        match self {
            GroupKey::Id(id) => id.to_string(),
            GroupKey::Name(name) => name,
        }
    }
}

type Members<'a> = (Vec<&'a KpiResponse>, Vec<&'a KpiDelivery>);

/// The KPIs of `month` over `responses` and `deliveries`: every response answered and every
/// delivery sent in it or the month before (others do not change any figure), grouped by
/// `group_by` on top of the overall figures.
pub fn survey_kpis(
    month: Month,
    group_by: Option<GroupBy>,
    responses: &[KpiResponse],
    deliveries: &[KpiDelivery],
) -> SurveyKpis {
    let (from, to) = (month.previous().start(), month.end());
    let within = |at: DateTime<Utc>| from <= at && at < to;
    let responses: Vec<&KpiResponse> = responses.iter().filter(|r| within(r.answered_at)).collect();
    let deliveries: Vec<&KpiDelivery> = deliveries.iter().filter(|d| within(d.sent_at)).collect();
    let groups = group_by.map_or_else(Vec::new, |group_by| {
        let mut members: BTreeMap<Option<GroupKey>, Members> = BTreeMap::new();
        for &response in &responses {
            let key = GroupKey::of(group_by, &response.groups);
            members.entry(key).or_default().0.push(response);
        }
        for &delivery in &deliveries {
            let key = GroupKey::of(group_by, &delivery.groups);
            members.entry(key).or_default().1.push(delivery);
        }
        members
            .into_iter()
            .map(|(key, (responses, deliveries))| GroupFigures {
                key: key.map(GroupKey::label),
                figures: compare(month, &responses, &deliveries),
            })
            .collect()
    });
    SurveyKpis {
        month: month.label(),
        previous_month: month.previous().label(),
        group_by,
        overall: compare(month, &responses, &deliveries),
        groups,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(month: u32, day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, month, day, 12, 0, 0).unwrap()
    }

    fn november() -> Month {
        Month::parse("2026-11").unwrap()
    }

    fn response(kind: SatisfactionKind, score: i32, answered_at: DateTime<Utc>) -> KpiResponse {
        KpiResponse {
            kind,
            score,
            dimensions: BTreeMap::new(),
            answered_at,
            groups: KpiGroups::default(),
        }
    }

    fn scored(
        kind: SatisfactionKind,
        scores: &[i32],
        answered_at: DateTime<Utc>,
    ) -> Vec<KpiResponse> {
        scores
            .iter()
            .map(|&score| response(kind, score, answered_at))
            .collect()
    }

    fn delivery(sent_at: DateTime<Utc>, answered: bool) -> KpiDelivery {
        KpiDelivery {
            sent_at,
            answered_at: answered.then(|| sent_at + chrono::Duration::hours(3)),
            groups: KpiGroups::default(),
        }
    }

    trait Grouped {
        fn groups(&mut self) -> &mut KpiGroups;
    }

    impl Grouped for KpiResponse {
        fn groups(&mut self) -> &mut KpiGroups {
            &mut self.groups
        }
    }

    impl Grouped for KpiDelivery {
        fn groups(&mut self) -> &mut KpiGroups {
            &mut self.groups
        }
    }

    fn tiered<T: Grouped>(mut items: Vec<T>, tier: Option<&str>) -> Vec<T> {
        for item in &mut items {
            item.groups().tier = tier.map(str::to_owned);
        }
        items
    }

    fn empty_metric() -> Metric {
        Metric {
            value: None,
            previous: None,
            delta: None,
            basis: 0,
        }
    }

    #[test]
    fn csat_counts_four_and_five_as_satisfied() {
        let responses = scored(SatisfactionKind::Csat, &[5, 4, 3, 1], at(11, 3));
        let kpis = survey_kpis(november(), None, &responses, &[]);
        let csat = &kpis.overall.csat_percent;
        assert_eq!((csat.value, csat.basis), (Some(50.0), 4));
        assert_eq!((csat.previous, csat.delta), (None, None));
        assert_eq!(kpis.overall.nps, empty_metric());
        assert_eq!(kpis.overall.ces_mean, empty_metric());
    }

    #[test]
    fn nps_is_promoters_minus_detractors() {
        let balanced = scored(SatisfactionKind::Nps, &[10, 9, 8, 6, 0], at(11, 3));
        let nps = survey_kpis(november(), None, &balanced, &[]).overall.nps;
        assert_eq!((nps.value, nps.basis), (Some(0.0), 5));

        // 3 promoters, 1 passive (7), 0 detractors out of 4: 75 − 0.
        let happy = scored(SatisfactionKind::Nps, &[9, 10, 10, 7], at(11, 3));
        assert_eq!(
            survey_kpis(november(), None, &happy, &[]).overall.nps.value,
            Some(75.0)
        );

        // 1 promoter, 3 detractors out of 4: 25 − 75.
        let unhappy = scored(SatisfactionKind::Nps, &[9, 6, 3, 0], at(11, 3));
        assert_eq!(
            survey_kpis(november(), None, &unhappy, &[])
                .overall
                .nps
                .value,
            Some(-50.0)
        );
    }

    #[test]
    fn ces_is_the_mean_score() {
        let responses = scored(SatisfactionKind::Ces, &[2, 3, 7], at(11, 30));
        let ces = survey_kpis(november(), None, &responses, &[])
            .overall
            .ces_mean;
        assert_eq!((ces.value, ces.basis), (Some(4.0), 3));
    }

    #[test]
    fn kinds_do_not_mix() {
        let mut responses = scored(SatisfactionKind::Csat, &[5, 1], at(11, 3));
        responses.extend(scored(SatisfactionKind::Nps, &[10], at(11, 4)));
        responses.extend(scored(SatisfactionKind::Ces, &[6], at(11, 5)));
        let overall = survey_kpis(november(), None, &responses, &[]).overall;
        assert_eq!(
            (overall.csat_percent.value, overall.csat_percent.basis),
            (Some(50.0), 2)
        );
        assert_eq!((overall.nps.value, overall.nps.basis), (Some(100.0), 1));
        assert_eq!(
            (overall.ces_mean.value, overall.ces_mean.basis),
            (Some(6.0), 1)
        );
    }

    #[test]
    fn figures_compare_with_the_month_before() {
        let mut responses = scored(SatisfactionKind::Csat, &[5, 4, 3, 1], at(11, 3));
        // October: 1 satisfied out of 4 = 25 %.
        responses.extend(scored(SatisfactionKind::Csat, &[5, 3, 2, 1], at(10, 31)));
        // September and December do not count.
        responses.extend(scored(SatisfactionKind::Csat, &[1, 1], at(9, 30)));
        responses.extend(scored(SatisfactionKind::Csat, &[1, 1], at(12, 1)));
        responses.extend(scored(SatisfactionKind::Nps, &[10, 9, 8, 6, 0], at(11, 3)));
        // October NPS: 1 promoter, 1 detractor out of 2 → 0; November's is 0 too.
        responses.extend(scored(SatisfactionKind::Nps, &[9, 2], at(10, 2)));
        responses.extend(scored(SatisfactionKind::Ces, &[2, 4], at(11, 3)));
        responses.extend(scored(SatisfactionKind::Ces, &[5], at(10, 3)));
        let overall = survey_kpis(november(), None, &responses, &[]).overall;
        assert_eq!(
            overall.csat_percent,
            Metric {
                value: Some(50.0),
                previous: Some(25.0),
                delta: Some(25.0),
                basis: 4
            }
        );
        assert_eq!(
            overall.nps,
            Metric {
                value: Some(0.0),
                previous: Some(0.0),
                delta: Some(0.0),
                basis: 5
            }
        );
        assert_eq!(
            overall.ces_mean,
            Metric {
                value: Some(3.0),
                previous: Some(5.0),
                delta: Some(-2.0),
                basis: 2
            }
        );
    }

    #[test]
    fn month_bounds_are_half_open_in_utc() {
        let first = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let last = Utc.with_ymd_and_hms(2026, 11, 30, 23, 59, 59).unwrap();
        let next = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let responses = vec![
            response(SatisfactionKind::Csat, 5, first),
            response(SatisfactionKind::Csat, 5, last),
            response(SatisfactionKind::Csat, 1, next),
        ];
        let csat = survey_kpis(november(), None, &responses, &[])
            .overall
            .csat_percent;
        assert_eq!((csat.value, csat.basis), (Some(100.0), 2));
    }

    #[test]
    fn response_rate_counts_deliveries_sent_in_the_month() {
        let deliveries = vec![
            delivery(at(11, 2), true),
            delivery(at(11, 3), false),
            delivery(at(11, 4), false),
            delivery(at(11, 5), false),
            // Sent in October, answered in November: October's.
            KpiDelivery {
                answered_at: Some(at(11, 1)),
                ..delivery(at(10, 30), false)
            },
            delivery(at(10, 29), false),
        ];
        let rate = survey_kpis(november(), None, &[], &deliveries)
            .overall
            .response_rate;
        assert_eq!(
            rate,
            Metric {
                value: Some(25.0),
                previous: Some(50.0),
                delta: Some(-25.0),
                basis: 4
            }
        );
    }

    #[test]
    fn dimension_means_cover_the_responses_rating_them() {
        let rated = |ratings: &[(&str, i32)], answered_at| KpiResponse {
            dimensions: ratings
                .iter()
                .map(|&(key, rating)| (key.to_owned(), rating))
                .collect(),
            ..response(SatisfactionKind::Csat, 5, answered_at)
        };
        let responses = vec![
            rated(&[("product_quality", 5), ("communication", 2)], at(11, 3)),
            rated(&[("product_quality", 4)], at(11, 4)),
            rated(&[], at(11, 5)),
            rated(
                &[("product_quality", 3), ("service_response", 4)],
                at(10, 5),
            ),
        ];
        let means = survey_kpis(november(), None, &responses, &[])
            .overall
            .dimension_means;
        assert_eq!(
            means.keys().map(String::as_str).collect::<Vec<_>>(),
            ["communication", "product_quality", "service_response"]
        );
        assert_eq!(
            means["product_quality"],
            Metric {
                value: Some(4.5),
                previous: Some(3.0),
                delta: Some(1.5),
                basis: 2
            }
        );
        assert_eq!(
            means["communication"],
            Metric {
                value: Some(2.0),
                previous: None,
                delta: None,
                basis: 1
            }
        );
        assert_eq!(
            means["service_response"],
            Metric {
                value: None,
                previous: Some(4.0),
                delta: None,
                basis: 0
            }
        );
    }

    #[test]
    fn empty_months_have_no_values() {
        let kpis = survey_kpis(november(), Some(GroupBy::Tier), &[], &[]);
        assert_eq!(
            (kpis.month.as_str(), kpis.previous_month.as_str()),
            ("2026-11", "2026-10")
        );
        assert_eq!(kpis.group_by, Some(GroupBy::Tier));
        for metric in [
            &kpis.overall.csat_percent,
            &kpis.overall.nps,
            &kpis.overall.ces_mean,
            &kpis.overall.response_rate,
        ] {
            assert_eq!(metric, &empty_metric());
        }
        assert!(kpis.overall.dimension_means.is_empty());
        assert!(kpis.groups.is_empty());

        // Only last month: values are null, previous values are kept.
        let october = scored(SatisfactionKind::Csat, &[5], at(10, 3));
        let csat = survey_kpis(november(), None, &october, &[])
            .overall
            .csat_percent;
        assert_eq!(
            csat,
            Metric {
                value: None,
                previous: Some(100.0),
                delta: None,
                basis: 0
            }
        );
    }

    #[test]
    fn grouping_by_tier_lists_every_tier_of_either_month() {
        let mut responses = Vec::new();
        responses.extend(tiered(
            scored(SatisfactionKind::Csat, &[5, 4, 3, 1], at(11, 3)),
            Some("gold"),
        ));
        responses.extend(tiered(
            scored(SatisfactionKind::Csat, &[5, 2], at(10, 3)),
            Some("gold"),
        ));
        responses.extend(tiered(
            scored(SatisfactionKind::Csat, &[2], at(11, 3)),
            None,
        ));
        // Only in October.
        responses.extend(tiered(
            scored(SatisfactionKind::Csat, &[5], at(10, 3)),
            Some("bronze"),
        ));
        // Outside both months: no group.
        responses.extend(tiered(
            scored(SatisfactionKind::Csat, &[5], at(9, 3)),
            Some("platinum"),
        ));
        let deliveries = tiered(
            vec![delivery(at(11, 1), true), delivery(at(11, 2), false)],
            Some("silver"),
        );
        let kpis = survey_kpis(november(), Some(GroupBy::Tier), &responses, &deliveries);

        let keys: Vec<Option<&str>> = kpis.groups.iter().map(|g| g.key.as_deref()).collect();
        assert_eq!(keys, [None, Some("bronze"), Some("gold"), Some("silver")]);

        let none = &kpis.groups[0].figures;
        assert_eq!(
            (none.csat_percent.value, none.csat_percent.basis),
            (Some(0.0), 1)
        );
        let bronze = &kpis.groups[1].figures;
        assert_eq!(
            bronze.csat_percent,
            Metric {
                value: None,
                previous: Some(100.0),
                delta: None,
                basis: 0
            }
        );
        let gold = &kpis.groups[2].figures;
        assert_eq!(
            gold.csat_percent,
            Metric {
                value: Some(50.0),
                previous: Some(50.0),
                delta: Some(0.0),
                basis: 4
            }
        );
        assert_eq!(gold.response_rate, empty_metric());
        let silver = &kpis.groups[3].figures;
        assert_eq!(
            (silver.response_rate.value, silver.response_rate.basis),
            (Some(50.0), 2)
        );
        assert_eq!(silver.csat_percent, empty_metric());

        // The overall figures ignore the groups: 2 satisfied of 5 in November, 2 of 3 before.
        let csat = &kpis.overall.csat_percent;
        assert_eq!((csat.value, csat.basis), (Some(40.0), 5));
        let previous = csat.previous.unwrap();
        assert!((previous - 200.0 / 3.0).abs() < 1e-9);
        assert!((csat.delta.unwrap() - (40.0 - 200.0 / 3.0)).abs() < 1e-9);
    }

    #[test]
    fn grouping_by_owner_or_department_keys_ids_as_text_in_numeric_order() {
        let owned = |owner_id: Option<Id>, department_id: Option<Id>, score| KpiResponse {
            groups: KpiGroups {
                tier: Some("gold".to_owned()),
                owner_id,
                department_id,
            },
            ..response(SatisfactionKind::Ces, score, at(11, 3))
        };
        let responses = vec![
            owned(Some(10), Some(3), 2),
            owned(Some(2), None, 4),
            owned(Some(10), Some(3), 6),
            owned(None, Some(3), 1),
        ];
        let by_owner = survey_kpis(november(), Some(GroupBy::Owner), &responses, &[]);
        let owners: Vec<(Option<&str>, Option<f64>)> = by_owner
            .groups
            .iter()
            .map(|g| (g.key.as_deref(), g.figures.ces_mean.value))
            .collect();
        assert_eq!(
            owners,
            [
                (None, Some(1.0)),
                (Some("2"), Some(4.0)),
                (Some("10"), Some(4.0))
            ]
        );

        let by_department = survey_kpis(november(), Some(GroupBy::Department), &responses, &[]);
        let departments: Vec<(Option<&str>, u64)> = by_department
            .groups
            .iter()
            .map(|g| (g.key.as_deref(), g.figures.ces_mean.basis))
            .collect();
        assert_eq!(departments, [(None, 1), (Some("3"), 3)]);

        assert!(
            survey_kpis(november(), None, &responses, &[])
                .groups
                .is_empty()
        );
    }

    #[test]
    fn group_by_reads_and_writes_snake_case() {
        assert_eq!(
            "department".parse::<GroupBy>().unwrap(),
            GroupBy::Department
        );
        assert_eq!(<&str>::from(GroupBy::Owner), "owner");
        assert_eq!(
            serde_json::from_str::<GroupBy>("\"tier\"").unwrap(),
            GroupBy::Tier
        );
        let kpis = survey_kpis(november(), Some(GroupBy::Owner), &[], &[]);
        let json = serde_json::to_value(&kpis).unwrap();
        assert_eq!(json["group_by"], "owner");
        assert_eq!(
            json["overall"]["csat_percent"]["value"],
            serde_json::Value::Null
        );
        assert_eq!(json["overall"]["response_rate"]["basis"], 0);
    }
}
