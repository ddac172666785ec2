//! Monthly service KPIs, as the seeds' monthly review reads them: complaints handled on time,
//! how fast the team answers and resolves, how many requirements get resolved, and who holds the
//! backlog. Each figure comes with the previous month's and the change.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::Id;
use super::ValidationErrors;
use super::ticket::TicketType;

/// A calendar month in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    first_day: NaiveDate,
}

impl Month {
    pub fn of(at: DateTime<Utc>) -> Month {
        Month {
            first_day: at.date_naive().with_day(1).expect("day 1 exists"),
        }
    }

    /// `YYYY-MM`.
    pub fn parse(text: &str) -> Result<Month, ValidationErrors> {
        NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
            .ok()
            .filter(|_| text.len() == 7)
            .map(|first_day| Month { first_day })
            .ok_or_else(|| {
                ValidationErrors::single("month", "invalid_month", "month is YYYY-MM, e.g. 2026-11")
            })
    }

    /// The month a KPI query names (`YYYY-MM`), or the one `now` falls in.
    pub fn requested(text: Option<&str>, now: DateTime<Utc>) -> Result<Month, ValidationErrors> {
        text.map_or(Ok(Month::of(now)), Month::parse)
    }

    pub fn start(self) -> DateTime<Utc> {
        self.first_day
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
    }

    /// The first instant of the next month.
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }

    pub fn next(self) -> Month {
        Month {
            first_day: self.first_day + chrono::Months::new(1),
        }
    }

    pub fn previous(self) -> Month {
        Month {
            first_day: self.first_day - chrono::Months::new(1),
        }
    }

    fn contains(self, at: DateTime<Utc>) -> bool {
        self.start() <= at && at < self.end()
    }

    pub fn label(self) -> String {
        self.first_day.format("%Y-%m").to_string()
    }
}

/// The facts of one ticket the KPIs need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiTicket {
    pub ticket_type: TicketType,
    pub created_at: DateTime<Utc>,
    pub first_responded_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub department_id: Option<Id>,
    pub assignee_id: Option<Id>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Metric {
    /// `null` when no ticket qualifies this month.
    pub value: Option<f64>,
    pub previous: Option<f64>,
    /// `value − previous`, when both exist.
    pub delta: Option<f64>,
    /// How many tickets the value is computed over this month.
    pub basis: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BacklogEntry {
    /// A department or assignee id; `null` for tickets without one.
    pub id: Option<Id>,
    /// Open tickets at the end of the month (now, for the current month).
    pub open: u64,
    pub previous: u64,
    pub delta: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ServiceKpis {
    pub month: String,
    pub previous_month: String,
    /// Complaints resolved this month by their resolution deadline, over complaints resolved
    /// this month that had one (0–1).
    pub complaint_on_time_resolution_rate: Metric,
    /// Hours from creation to the first public answer, over tickets first answered this month.
    pub mean_first_response_hours: Metric,
    /// Hours from creation to resolution, over tickets resolved this month.
    pub mean_resolution_hours: Metric,
    /// Requirements raised this month that were resolved by the month's end (0–1).
    pub requirement_resolution_rate: Metric,
    pub backlog_by_department: Vec<BacklogEntry>,
    pub backlog_by_assignee: Vec<BacklogEntry>,
}

struct MonthFigures {
    on_time: (Option<f64>, u64),
    first_response: (Option<f64>, u64),
    resolution: (Option<f64>, u64),
    requirements: (Option<f64>, u64),
    by_department: BTreeMap<Option<Id>, u64>,
    by_assignee: BTreeMap<Option<Id>, u64>,
}

fn ratio(hits: usize, of: usize) -> (Option<f64>, u64) {
    let value = (of > 0).then(|| hits as f64 / of as f64);
    (value, of as u64)
}

fn mean_hours(spans: &[i64]) -> (Option<f64>, u64) {
    let value =
        (!spans.is_empty()).then(|| spans.iter().sum::<i64>() as f64 / spans.len() as f64 / 3600.0);
    (value, spans.len() as u64)
}

fn figures(month: Month, tickets: &[KpiTicket]) -> MonthFigures {
    let end = month.end();
    let resolved_in = |t: &&KpiTicket| t.resolved_at.is_some_and(|at| month.contains(at));
    let complaints: Vec<&KpiTicket> = tickets
        .iter()
        .filter(|t| t.ticket_type == TicketType::Complaint)
        .filter(resolved_in)
        .filter(|t| t.resolution_due_at.is_some())
        .collect();
    let on_time = complaints
        .iter()
        .filter(|t| t.resolved_at <= t.resolution_due_at)
        .count();
    let seconds = |from: DateTime<Utc>, to: DateTime<Utc>| (to - from).num_seconds();
    let first_responses: Vec<i64> = tickets
        .iter()
        .filter_map(|t| Some((t.created_at, t.first_responded_at?)))
        .filter(|(_, at)| month.contains(*at))
        .map(|(from, to)| seconds(from, to))
        .collect();
    let resolutions: Vec<i64> = tickets
        .iter()
        .filter(resolved_in)
        .map(|t| seconds(t.created_at, t.resolved_at.expect("filtered")))
        .collect();
    let requirements: Vec<&KpiTicket> = tickets
        .iter()
        .filter(|t| t.ticket_type == TicketType::Requirement && month.contains(t.created_at))
        .collect();
    let requirements_resolved = requirements
        .iter()
        .filter(|t| t.resolved_at.is_some_and(|at| at < end))
        .count();
    let open_at_end: Vec<&KpiTicket> = tickets
        .iter()
        .filter(|t| t.created_at < end && t.resolved_at.is_none_or(|at| at >= end))
        .collect();
    let count_by = |key: fn(&KpiTicket) -> Option<Id>| {
        let mut counts = BTreeMap::new();
        for ticket in &open_at_end {
            *counts.entry(key(ticket)).or_insert(0) += 1;
        }
        counts
    };
    MonthFigures {
        on_time: ratio(on_time, complaints.len()),
        first_response: mean_hours(&first_responses),
        resolution: mean_hours(&resolutions),
        requirements: ratio(requirements_resolved, requirements.len()),
        by_department: count_by(|t| t.department_id),
        by_assignee: count_by(|t| t.assignee_id),
    }
}

fn metric(current: (Option<f64>, u64), previous: (Option<f64>, u64)) -> Metric {
    Metric {
        value: current.0,
        previous: previous.0,
        delta: current.0.zip(previous.0).map(|(now, before)| now - before),
        basis: current.1,
    }
}

fn backlog(
    current: &BTreeMap<Option<Id>, u64>,
    previous: &BTreeMap<Option<Id>, u64>,
) -> Vec<BacklogEntry> {
    let keys: std::collections::BTreeSet<Option<Id>> =
        current.keys().chain(previous.keys()).copied().collect();
    keys.into_iter()
        .map(|id| {
            let open = current.get(&id).copied().unwrap_or(0);
            let before = previous.get(&id).copied().unwrap_or(0);
            BacklogEntry {
                id,
                open,
                previous: before,
                delta: open as i64 - before as i64,
            }
        })
        .collect()
}

/// The KPIs of `month` over `tickets`: every ticket that was open, answered or resolved in it or
/// the month before (others do not change any figure).
pub fn service_kpis(month: Month, tickets: &[KpiTicket]) -> ServiceKpis {
    let now = figures(month, tickets);
    let before = figures(month.previous(), tickets);
    ServiceKpis {
        month: month.label(),
        previous_month: month.previous().label(),
        complaint_on_time_resolution_rate: metric(now.on_time, before.on_time),
        mean_first_response_hours: metric(now.first_response, before.first_response),
        mean_resolution_hours: metric(now.resolution, before.resolution),
        requirement_resolution_rate: metric(now.requirements, before.requirements),
        backlog_by_department: backlog(&now.by_department, &before.by_department),
        backlog_by_assignee: backlog(&now.by_assignee, &before.by_assignee),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn at(month: u32, day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap()
    }

    fn ticket(ticket_type: TicketType, created: DateTime<Utc>) -> KpiTicket {
        KpiTicket {
            ticket_type,
            created_at: created,
            first_responded_at: None,
            resolved_at: None,
            resolution_due_at: None,
            department_id: Some(1),
            assignee_id: Some(7),
        }
    }

    #[test]
    fn months_parse_and_step() {
        let november = Month::parse("2026-11").unwrap();
        assert_eq!(november.previous().label(), "2026-10");
        assert_eq!(november.end(), at(12, 1, 0));
        assert_eq!(
            Month::parse("2026-13").unwrap_err().0[0].code,
            "invalid_month"
        );
        assert!(Month::parse("2026-1").is_err());
    }

    #[test]
    fn figures_compare_with_the_month_before() {
        let complaint = |created, resolved, due| KpiTicket {
            resolved_at: Some(resolved),
            resolution_due_at: Some(due),
            first_responded_at: Some(created + Duration::hours(2)),
            ..ticket(TicketType::Complaint, created)
        };
        let tickets = vec![
            complaint(at(10, 5, 8), at(10, 6, 8), at(10, 5, 20)),
            complaint(at(11, 5, 8), at(11, 5, 10), at(11, 5, 20)),
            complaint(at(11, 6, 8), at(11, 7, 8), at(11, 6, 20)),
            ticket(TicketType::Requirement, at(11, 8, 8)),
            KpiTicket {
                resolved_at: Some(at(11, 9, 8)),
                ..ticket(TicketType::Requirement, at(11, 8, 9))
            },
        ];
        let kpis = service_kpis(Month::parse("2026-11").unwrap(), &tickets);
        let on_time = &kpis.complaint_on_time_resolution_rate;
        assert_eq!((on_time.value, on_time.previous), (Some(0.5), Some(0.0)));
        assert_eq!(on_time.delta, Some(0.5));
        assert_eq!(kpis.mean_first_response_hours.value, Some(2.0));
        assert_eq!(kpis.requirement_resolution_rate.value, Some(0.5));
        assert_eq!(kpis.requirement_resolution_rate.previous, None);
        assert_eq!(
            kpis.backlog_by_assignee,
            [BacklogEntry {
                id: Some(7),
                open: 1,
                previous: 0,
                delta: 1
            }]
        );
    }
}
