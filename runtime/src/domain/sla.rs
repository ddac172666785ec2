//! Service-level clocks: business calendars and SLA timers.
//!
//! SLA targets count open time of a tenant's [`BusinessCalendar`], so a ticket raised on a Friday
//! evening is not overdue by Saturday morning. The arithmetic walks local dates, not minutes: its
//! cost grows with the number of days spanned, whatever the length of the target.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::validation::ValidationErrors;

const MINUTES_PER_DAY: u16 = 24 * 60;
/// `add` gives up after this many days without open time, so that a calendar which is closed for
/// good (every remaining day a holiday) cannot keep it walking.
const HORIZON_DAYS: i64 = 3 * 366;
const MAX_HOLIDAYS: usize = 1000;
const WEEKDAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Every offset in the time zone database is within a day of UTC (historic local mean times
/// included), so the instant of a wall-clock time lies within this many seconds of it read as UTC.
const OFFSET_SPAN_SECONDS: i64 = 26 * 3600;

/// One opening window of a weekday: `[opens, closes)` in minutes of the local day, where
/// `closes` may be 1440 (midnight at the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpeningWindow {
    pub opens: u16,
    pub closes: u16,
}

/// When a tenant is open for business: weekly opening windows read in a time zone, minus holidays.
///
/// A window `[opens, closes)` on local date `d` stands for the instants whose wall-clock date is
/// `d` and whose time of day lies in the window. Its boundaries become instants by their earliest
/// occurrence: a boundary skipped by a daylight-saving gap moves to the first instant after the
/// gap, and a boundary inside a fold (a repeated hour) takes the first pass, so a window that
/// ends inside a fold does not count the repeated part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    time_zone: Tz,
    /// Indexed by days from Monday; each list sorted and non-overlapping.
    hours: [Vec<OpeningWindow>; 7],
    /// Local dates on which nothing is open.
    holidays: BTreeSet<NaiveDate>,
}

impl Default for BusinessCalendar {
    fn default() -> Self {
        Self::office_hours()
    }
}

impl BusinessCalendar {
    /// Monday to Friday 09:00–18:00 UTC, no holidays: what a tenant has until it sets its own.
    pub fn office_hours() -> Self {
        Self::first_days_open(5, 9 * 60, 18 * 60)
    }

    /// Every day all day in UTC, for SLA policies that count calendar hours.
    pub fn around_the_clock() -> Self {
        Self::first_days_open(7, 0, MINUTES_PER_DAY)
    }

    fn first_days_open(open_days: usize, opens: u16, closes: u16) -> Self {
        let window = OpeningWindow { opens, closes };
        Self {
            time_zone: Tz::UTC,
            hours: std::array::from_fn(|day| {
                if day < open_days {
                    vec![window]
                } else {
                    Vec::new()
                }
            }),
            holidays: BTreeSet::new(),
        }
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    pub fn windows(&self, weekday: chrono::Weekday) -> &[OpeningWindow] {
        &self.hours[weekday.num_days_from_monday() as usize]
    }

    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }

    /// The instant at which `business` of open time has elapsed from `start`.
    ///
    /// A zero (or negative) duration gives `start` itself, even outside opening hours. `None`
    /// means the walk met three years in a row without open time, or left chrono's date range.
    pub fn add(&self, start: DateTime<Utc>, business: TimeDelta) -> Option<DateTime<Utc>> {
        if business <= TimeDelta::zero() {
            return Some(start);
        }
        let mut remaining = business;
        let mut last_open_date = self.local_date(start);
        for date in self.dates_from(start) {
            for (opens, closes) in self.open_spans(date) {
                let opens = opens.max(start);
                if closes <= opens {
                    continue;
                }
                if closes - opens >= remaining {
                    return opens.checked_add_signed(remaining);
                }
                remaining -= closes - opens;
                last_open_date = date;
            }
            if (date - last_open_date).num_days() > HORIZON_DAYS {
                return None;
            }
        }
        None
    }

    /// Open time within `[from, to)`; zero when `to <= from`.
    pub fn elapsed(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to <= from {
            return TimeDelta::zero();
        }
        let last_date = self.local_date(to).succ_opt().unwrap_or(NaiveDate::MAX);
        self.dates_from(from)
            .take_while(|date| *date <= last_date)
            .flat_map(|date| self.open_spans(date))
            .map(|(opens, closes)| closes.min(to) - opens.max(from))
            .filter(|open| *open > TimeDelta::zero())
            .sum()
    }

    /// The calendar as clients send it; validating the result gives this calendar back.
    pub fn spec(&self) -> BusinessCalendarSpec {
        let days = self
            .hours
            .each_ref()
            .map(|windows| windows.iter().map(OpeningWindow::spec).collect());
        BusinessCalendarSpec {
            time_zone: self.time_zone.name().to_owned(),
            hours: WeeklyHoursSpec::from_days(days),
            holidays: self.holidays.iter().copied().collect(),
        }
    }

    /// Local dates from the day before `at` on: starting a day early costs one day's windows and
    /// keeps the walk right whatever the offset does around midnight.
    fn dates_from(&self, at: DateTime<Utc>) -> impl Iterator<Item = NaiveDate> {
        let date = self.local_date(at);
        std::iter::successors(Some(date.pred_opt().unwrap_or(date)), NaiveDate::succ_opt)
    }

    /// The open intervals of one local date, in order, as `[opens, closes)` instants.
    fn open_spans(&self, date: NaiveDate) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> {
        let windows: &[OpeningWindow] = if self.holidays.contains(&date) {
            &[]
        } else {
            self.windows(date.weekday())
        };
        windows.iter().filter_map(move |window| {
            Some((
                self.boundary(date, window.opens)?,
                self.boundary(date, window.closes)?,
            ))
        })
    }

    /// The instant a window boundary of `date` stands for (see the type's documentation).
    fn boundary(&self, date: NaiveDate, minute: u16) -> Option<DateTime<Utc>> {
        let local = date
            .and_time(NaiveTime::MIN)
            .checked_add_signed(TimeDelta::minutes(minute.into()))?;
        match self.time_zone.from_local_datetime(&local).earliest() {
            Some(at) => Some(at.with_timezone(&Utc)),
            None => self.end_of_gap(local),
        }
    }

    /// The first instant whose wall-clock time is at least `local`, which for a `local` skipped
    /// by a daylight-saving gap is the instant the clocks jump.
    fn end_of_gap(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        // Gaps are rare, so bisecting to the second (18 steps) beats listing the zone's
        // transitions, which chrono-tz does not expose.
        let guess = local.and_utc().timestamp();
        let (mut before, mut after) = (guess - OFFSET_SPAN_SECONDS, guess + OFFSET_SPAN_SECONDS);
        while after - before > 1 {
            let middle = before + (after - before) / 2;
            if self.local_time(DateTime::from_timestamp(middle, 0)?)? >= local {
                after = middle;
            } else {
                before = middle;
            }
        }
        DateTime::from_timestamp(after, 0)
    }

    /// Wall-clock time of `at`; `None` only at the edges of chrono's range, where
    /// `DateTime::naive_local` would panic.
    fn local_time(&self, at: DateTime<Utc>) -> Option<NaiveDateTime> {
        let offset = self
            .time_zone
            .offset_from_utc_datetime(&at.naive_utc())
            .fix();
        at.naive_utc().checked_add_offset(offset)
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        self.local_time(at)
            .map_or_else(|| at.date_naive(), |local| local.date())
    }
}

impl OpeningWindow {
    fn spec(&self) -> OpeningWindowSpec {
        OpeningWindowSpec {
            opens: format_hh_mm(self.opens),
            closes: format_hh_mm(self.closes),
        }
    }
}

/// A business calendar as clients send and read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessCalendarSpec {
    /// IANA time zone in which opening hours and holidays are read.
    #[schema(example = "Asia/Shanghai")]
    pub time_zone: String,
    pub hours: WeeklyHoursSpec,
    /// Local dates on which nothing is open; at most 1000.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

/// Opening windows per weekday; a weekday left out is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHoursSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mon: Vec<OpeningWindowSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tue: Vec<OpeningWindowSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wed: Vec<OpeningWindowSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thu: Vec<OpeningWindowSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fri: Vec<OpeningWindowSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sat: Vec<OpeningWindowSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sun: Vec<OpeningWindowSpec>,
}

/// One opening window in local `HH:MM` time, open from `opens` up to but excluding `closes`,
/// which may be `24:00`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningWindowSpec {
    #[schema(example = "09:00")]
    pub opens: String,
    #[schema(example = "18:00")]
    pub closes: String,
}

impl WeeklyHoursSpec {
    fn days(&self) -> [&[OpeningWindowSpec]; 7] {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ]
    }

    fn from_days(days: [Vec<OpeningWindowSpec>; 7]) -> Self {
        let [mon, tue, wed, thu, fri, sat, sun] = days;
        Self {
            mon,
            tue,
            wed,
            thu,
            fri,
            sat,
            sun,
        }
    }
}

impl BusinessCalendarSpec {
    /// Checks every field in one pass, so a client sees all its mistakes at once.
    pub fn validate(self) -> Result<BusinessCalendar, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let time_zone = self.time_zone.parse::<Tz>();
        if time_zone.is_err() {
            errors.add(
                "time_zone",
                "unknown_time_zone",
                "time_zone must be an IANA time zone such as Asia/Shanghai",
            );
        }
        let days = self.hours.days();
        let hours =
            std::array::from_fn(|day| day_windows(&mut errors, WEEKDAY_KEYS[day], days[day]));
        if days.iter().all(|windows| windows.is_empty()) {
            errors.add(
                "hours",
                "no_business_hours",
                "hours must open on at least one weekday",
            );
        }
        let holidays: BTreeSet<NaiveDate> = self.holidays.into_iter().collect();
        if holidays.len() > MAX_HOLIDAYS {
            errors.add(
                "holidays",
                "too_many_holidays",
                format!("holidays has at most {MAX_HOLIDAYS} dates"),
            );
        }
        errors.into_result(BusinessCalendar {
            // Only kept when no error was recorded, and then the zone parsed.
            time_zone: time_zone.unwrap_or(Tz::UTC),
            hours,
            holidays,
        })
    }
}

/// The valid windows of one weekday, sorted; records the invalid ones and any overlap.
fn day_windows(
    errors: &mut ValidationErrors,
    key: &str,
    specs: &[OpeningWindowSpec],
) -> Vec<OpeningWindow> {
    let mut windows: Vec<OpeningWindow> = specs
        .iter()
        .enumerate()
        .filter_map(|(index, spec)| window(errors, &format!("hours.{key}[{index}]"), spec))
        .collect();
    windows.sort();
    if windows
        .windows(2)
        .any(|pair| pair[1].opens < pair[0].closes)
    {
        errors.add(
            format!("hours.{key}"),
            "overlapping_windows",
            format!("opening windows on {key} overlap"),
        );
    }
    windows
}

fn window(
    errors: &mut ValidationErrors,
    field: &str,
    spec: &OpeningWindowSpec,
) -> Option<OpeningWindow> {
    let opens = minute_of_day(errors, &format!("{field}.opens"), &spec.opens);
    let closes = minute_of_day(errors, &format!("{field}.closes"), &spec.closes);
    let (opens, closes) = (opens?, closes?);
    if closes <= opens {
        errors.add(
            field,
            "empty_window",
            format!("{field} must close after it opens"),
        );
        return None;
    }
    Some(OpeningWindow { opens, closes })
}

fn minute_of_day(errors: &mut ValidationErrors, field: &str, text: &str) -> Option<u16> {
    let minute = parse_hh_mm(text);
    if minute.is_none() {
        errors.add(
            field,
            "invalid_time",
            format!("{field} must be a time HH:MM from 00:00 to 24:00"),
        );
    }
    minute
}

fn parse_hh_mm(text: &str) -> Option<u16> {
    let two_digits = |part: &str| match part.as_bytes() {
        [tens @ b'0'..=b'9', ones @ b'0'..=b'9'] => {
            Some(u16::from(tens - b'0') * 10 + u16::from(ones - b'0'))
        }
        _ => None,
    };
    let (hours, minutes) = text.split_once(':')?;
    let (hours, minutes) = (two_digits(hours)?, two_digits(minutes)?);
    let minute = hours * 60 + minutes;
    (minutes < 60 && minute <= MINUTES_PER_DAY).then_some(minute)
}

fn format_hh_mm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The pause-aware clock a ticket carries. One clock drives both its first-response and its
/// resolution targets, since both start at creation and pause together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaClock {
    /// Open time used up before `running_since`.
    pub consumed: TimeDelta,
    /// When the clock last started or resumed; `None` while paused.
    pub running_since: Option<DateTime<Utc>>,
}

impl SlaClock {
    pub fn start(at: DateTime<Utc>) -> Self {
        Self {
            consumed: TimeDelta::zero(),
            running_since: Some(at),
        }
    }

    /// Banks the open time used since the clock last ran; pausing a paused clock changes nothing.
    pub fn pause(self, calendar: &BusinessCalendar, at: DateTime<Utc>) -> Self {
        match self.running_since {
            Some(_) => Self {
                consumed: self.consumed_at(calendar, at),
                running_since: None,
            },
            None => self,
        }
    }

    /// Resuming a running clock changes nothing, so a repeated event cannot lose open time.
    pub fn resume(self, at: DateTime<Utc>) -> Self {
        Self {
            running_since: self.running_since.or(Some(at)),
            ..self
        }
    }

    pub fn is_running(&self) -> bool {
        self.running_since.is_some()
    }

    /// Open time used up by `at`.
    pub fn consumed_at(&self, calendar: &BusinessCalendar, at: DateTime<Utc>) -> TimeDelta {
        let running = self
            .running_since
            .map_or(TimeDelta::zero(), |since| calendar.elapsed(since, at));
        self.consumed + running
    }

    /// When `target` of open time will have been consumed; `None` while paused (or when no open
    /// time lies ahead). A target already used up gives the moment the clock last resumed: the
    /// breach lies in the past and the clock keeps no record of exactly when.
    pub fn deadline(
        &self,
        calendar: &BusinessCalendar,
        target: TimeDelta,
    ) -> Option<DateTime<Utc>> {
        let since = self.running_since?;
        if self.consumed >= target {
            return Some(since);
        }
        calendar.add(since, target - self.consumed)
    }
}

/// The share of `target` after which a ticket counts as at risk: `target × percent / 100`, with
/// `percent` meant to lie in 1..=99 (the policy validates it).
pub fn at_risk_target(target: TimeDelta, at_risk_percent: u8) -> TimeDelta {
    let percent = i32::from(at_risk_percent);
    // Multiplying first keeps the precision; dividing first only matters for absurd targets.
    target
        .checked_mul(percent)
        .map_or_else(|| target / 100 * percent, |scaled| scaled / 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Timelike, Weekday};
    use proptest::prelude::*;
    use proptest::test_runner::Config as ProptestConfig;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn hours(count: i64) -> TimeDelta {
        TimeDelta::hours(count)
    }

    /// The instant of an unambiguous wall-clock time `YYYY-MM-DDTHH:MM:SS` in `zone`.
    fn local(zone: Tz, text: &str) -> DateTime<Utc> {
        let naive: NaiveDateTime = text.parse().unwrap();
        zone.from_local_datetime(&naive)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn spec_from(json: serde_json::Value) -> BusinessCalendarSpec {
        serde_json::from_value(json).unwrap()
    }

    fn calendar_from(json: serde_json::Value) -> BusinessCalendar {
        spec_from(json).validate().unwrap()
    }

    /// The same window on each of `weekdays`.
    fn open_on(weekdays: &[&str], zone: &str, opens: &str, closes: &str) -> BusinessCalendar {
        let window = serde_json::json!([{ "opens": opens, "closes": closes }]);
        let days: serde_json::Map<_, _> = weekdays
            .iter()
            .map(|key| (key.to_string(), window.clone()))
            .collect();
        calendar_from(serde_json::json!({ "time_zone": zone, "hours": days }))
    }

    fn daily(zone: &str, opens: &str, closes: &str) -> BusinessCalendar {
        open_on(&WEEKDAY_KEYS, zone, opens, closes)
    }

    #[test]
    fn friday_evening_plus_two_hours_lands_on_monday() {
        let calendar = BusinessCalendar::office_hours();
        let friday = utc("2026-03-06T17:00:00Z");
        let monday = utc("2026-03-09T10:00:00Z");
        assert_eq!(calendar.add(friday, hours(2)), Some(monday));
        assert_eq!(calendar.elapsed(friday, monday), hours(2));
        assert_eq!(calendar.add(friday, TimeDelta::zero()), Some(friday));
        let saturday = utc("2026-03-07T12:00:00Z");
        assert_eq!(calendar.add(saturday, TimeDelta::zero()), Some(saturday));
        assert_eq!(calendar.elapsed(monday, friday), TimeDelta::zero());
    }

    #[test]
    fn holidays_are_skipped() {
        let mut spec = BusinessCalendar::office_hours().spec();
        spec.holidays = vec![date("2026-03-09")];
        let calendar = spec.validate().unwrap();
        let friday = utc("2026-03-06T17:00:00Z");
        let tuesday = utc("2026-03-10T10:00:00Z");
        assert_eq!(calendar.add(friday, hours(2)), Some(tuesday));
        assert_eq!(calendar.elapsed(friday, tuesday), hours(2));
    }

    #[test]
    fn shanghai_hours_and_golden_week_are_read_in_local_time() {
        let week = serde_json::json!([{ "opens": "09:00", "closes": "18:00" }]);
        let calendar = calendar_from(serde_json::json!({
            "time_zone": "Asia/Shanghai",
            "hours": { "mon": week, "tue": week, "wed": week, "thu": week, "fri": week },
            "holidays": ["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"],
        }));
        let shanghai = Tz::Asia__Shanghai;
        let friday_late = local(shanghai, "2026-10-09T17:30:00");
        let monday = local(shanghai, "2026-10-12T09:30:00");
        assert_eq!(calendar.add(friday_late, hours(1)), Some(monday));
        assert_eq!(monday, utc("2026-10-12T01:30:00Z"));
        let before_holidays = local(shanghai, "2026-09-30T17:00:00");
        let after_holidays = local(shanghai, "2026-10-08T10:00:00");
        assert_eq!(
            calendar.add(before_holidays, hours(2)),
            Some(after_holidays)
        );
    }

    #[test]
    fn spring_forward_keeps_a_daytime_window_nine_hours_long() {
        let new_york = Tz::America__New_York;
        let calendar = daily("America/New_York", "09:00", "18:00");
        let midnight = local(new_york, "2026-03-08T00:00:00");
        let next_midnight = local(new_york, "2026-03-09T00:00:00");
        assert_eq!(next_midnight - midnight, hours(23));
        assert_eq!(calendar.elapsed(midnight, next_midnight), hours(9));
        let opening = local(new_york, "2026-03-08T09:00:00");
        assert_eq!(opening, utc("2026-03-08T13:00:00Z"));
        assert_eq!(
            calendar.add(opening, hours(9)),
            Some(utc("2026-03-08T22:00:00Z"))
        );
    }

    #[test]
    fn window_boundaries_in_a_gap_or_fold_take_their_earliest_instant() {
        // Both days are Sundays, and only Sundays open, so the sum covers one window.
        let day = |opens, closes, on| {
            let calendar = open_on(&["sun"], "America/New_York", opens, closes);
            let midnight = local(Tz::America__New_York, on);
            calendar.elapsed(midnight, midnight + hours(48))
        };
        let spring = "2026-03-08T00:00:00";
        assert_eq!(day("01:00", "04:00", spring), hours(2));
        assert_eq!(day("02:30", "04:00", spring), hours(1));
        assert_eq!(day("02:15", "02:45", spring), TimeDelta::zero());
        let autumn = "2026-11-01T00:00:00";
        assert_eq!(day("00:00", "01:30", autumn), TimeDelta::minutes(90));
        assert_eq!(day("01:30", "03:00", autumn), TimeDelta::minutes(150));
    }

    #[test]
    fn around_the_clock_adds_plain_durations() {
        let calendar = BusinessCalendar::around_the_clock();
        let start = utc("2026-12-31T23:59:00Z");
        let took = TimeDelta::minutes(3 * 24 * 60 + 7);
        assert_eq!(calendar.add(start, took), Some(start + took));
        assert_eq!(calendar.elapsed(start, start + took), took);
    }

    #[test]
    fn add_gives_up_when_no_open_time_is_ahead() {
        let mondays = serde_json::json!([{ "opens": "09:00", "closes": "10:00" }]);
        let every_monday: Vec<String> = (0..200)
            .map(|week| (date("2026-01-05") + TimeDelta::weeks(week)).to_string())
            .collect();
        let calendar = calendar_from(serde_json::json!({
            "time_zone": "UTC", "hours": { "mon": mondays }, "holidays": every_monday,
        }));
        let start = utc("2026-01-01T00:00:00Z");
        assert_eq!(calendar.add(start, hours(1)), None);
        assert_eq!(
            calendar.elapsed(start, start + TimeDelta::weeks(150)),
            TimeDelta::zero()
        );
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let calendar = daily("Pacific/Kiritimati", "00:00", "24:00");
        let late = DateTime::<Utc>::MAX_UTC - hours(1);
        assert_eq!(calendar.add(late, hours(48)), None);
        assert!(calendar.elapsed(late, DateTime::<Utc>::MAX_UTC) <= hours(1));
        let early = DateTime::<Utc>::MIN_UTC;
        assert!(calendar.elapsed(early, early + hours(2)) <= hours(2));
    }

    #[test]
    fn invalid_specs_report_every_problem_with_a_stable_code() {
        let errors = spec_from(serde_json::json!({
            "time_zone": "Mars/Olympus_Mons",
            "hours": {
                "mon": [{ "opens": "9:00", "closes": "24:01" }],
                "tue": [{ "opens": "18:00", "closes": "09:00" }],
                "wed": [
                    { "opens": "13:00", "closes": "18:00" },
                    { "opens": "09:00", "closes": "13:30" },
                ],
            },
        }))
        .validate()
        .unwrap_err();
        let found: Vec<(&str, &str)> = errors
            .0
            .iter()
            .map(|error| (error.field.as_str(), error.code))
            .collect();
        assert_eq!(
            found,
            [
                ("time_zone", "unknown_time_zone"),
                ("hours.mon[0].opens", "invalid_time"),
                ("hours.mon[0].closes", "invalid_time"),
                ("hours.tue[0]", "empty_window"),
                ("hours.wed", "overlapping_windows"),
            ]
        );
    }

    #[test]
    fn a_week_without_hours_or_with_too_many_holidays_is_rejected() {
        let holidays: Vec<NaiveDate> = (0..1001)
            .map(|day| date("2026-01-01") + TimeDelta::days(day))
            .collect();
        let spec = BusinessCalendarSpec {
            time_zone: "UTC".to_owned(),
            hours: WeeklyHoursSpec::default(),
            holidays,
        };
        let codes: Vec<&str> = spec
            .validate()
            .unwrap_err()
            .0
            .iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, ["no_business_hours", "too_many_holidays"]);
        let unknown_field = serde_json::json!({ "time_zone": "UTC", "hours": {}, "extra": 1 });
        assert!(serde_json::from_value::<BusinessCalendarSpec>(unknown_field).is_err());
    }

    #[test]
    fn specs_round_trip_through_json() {
        let json = serde_json::json!({
            "time_zone": "Asia/Shanghai",
            "hours": {
                "mon": [
                    { "opens": "09:00", "closes": "12:00" },
                    { "opens": "13:00", "closes": "18:00" },
                ],
                "sat": [{ "opens": "20:00", "closes": "24:00" }],
            },
            "holidays": ["2026-10-01", "2026-10-02"],
        });
        let calendar = calendar_from(json.clone());
        assert_eq!(calendar.windows(Weekday::Sat)[0].closes, 1440);
        assert_eq!(serde_json::to_value(calendar.spec()).unwrap(), json);
        assert_eq!(calendar.spec().validate(), Ok(calendar));
        let office = BusinessCalendar::office_hours();
        assert_eq!(office.spec().validate(), Ok(office));
    }

    #[test]
    fn a_paused_clock_stops_counting_until_resumed() {
        let calendar = BusinessCalendar::office_hours();
        let created = utc("2026-03-06T16:00:00Z");
        let clock = SlaClock::start(created);
        assert_eq!(
            clock.deadline(&calendar, hours(4)),
            Some(utc("2026-03-09T11:00:00Z"))
        );
        let paused = clock.pause(&calendar, utc("2026-03-06T17:30:00Z"));
        assert_eq!(paused.consumed, TimeDelta::minutes(90));
        assert_eq!(paused.deadline(&calendar, hours(4)), None);
        assert_eq!(paused.pause(&calendar, utc("2026-03-09T17:00:00Z")), paused);
        let resumed = paused.resume(utc("2026-03-10T09:00:00Z"));
        assert_eq!(resumed.resume(utc("2026-03-11T09:00:00Z")), resumed);
        assert_eq!(
            resumed.deadline(&calendar, hours(4)),
            Some(utc("2026-03-10T11:30:00Z"))
        );
        assert_eq!(resumed.deadline(&calendar, hours(1)), resumed.running_since);
        let later = utc("2026-03-10T10:00:00Z");
        assert_eq!(
            resumed.consumed_at(&calendar, later),
            TimeDelta::minutes(150)
        );
    }

    #[test]
    fn at_risk_target_is_a_share_of_the_target() {
        assert_eq!(at_risk_target(hours(8), 75), hours(6));
        assert_eq!(
            at_risk_target(TimeDelta::minutes(10), 33),
            TimeDelta::seconds(198)
        );
        assert_eq!(
            at_risk_target(TimeDelta::MAX, 50),
            TimeDelta::MAX / 100 * 50
        );
    }

    // Property tests against a reference that decides, minute by minute, whether an instant is
    // open straight from the definition.

    const ZONES: [Tz; 7] = [
        Tz::UTC,
        Tz::Asia__Shanghai,
        Tz::Asia__Kathmandu,
        Tz::America__New_York,
        Tz::Europe__Berlin,
        Tz::Australia__Lord_Howe,
        Tz::America__St_Johns,
    ];

    /// Clock changes of `ZONES` in 2026–2027: North America (New York and St. John's share
    /// theirs), then Europe, then Lord Howe.
    const DST_CHANGES: [&str; 12] = [
        "2026-03-08",
        "2026-11-01",
        "2027-03-14",
        "2027-11-07",
        "2026-03-29",
        "2026-10-25",
        "2027-03-28",
        "2027-10-31",
        "2026-04-05",
        "2026-10-04",
        "2027-04-04",
        "2027-10-03",
    ];

    const MINUTE: TimeDelta = TimeDelta::minutes(1);

    #[derive(Debug, Clone)]
    struct Scenario {
        calendar: BusinessCalendar,
        start: DateTime<Utc>,
        /// Up to three of the calendar's average open days, in minutes.
        business_minutes: i64,
    }

    fn is_open(calendar: &BusinessCalendar, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&calendar.time_zone).naive_local();
        let minute = (local.hour() * 60 + local.minute()) as u16;
        !calendar.holidays.contains(&local.date())
            && calendar
                .windows(local.weekday())
                .iter()
                .any(|window| window.opens <= minute && minute < window.closes)
    }

    /// Walks minute by minute while `running(at)`, until `minutes` open minutes are counted.
    fn reference_walk(
        calendar: &BusinessCalendar,
        start: DateTime<Utc>,
        minutes: i64,
        running: impl Fn(DateTime<Utc>) -> bool,
    ) -> DateTime<Utc> {
        let (mut at, mut left) = (start, minutes);
        while left > 0 {
            if running(at) && is_open(calendar, at) {
                left -= 1;
            }
            at += MINUTE;
            assert!(at - start < TimeDelta::days(400), "reference walk ran away");
        }
        at
    }

    /// Open minutes in `[from, to)` during which `running(at)`.
    fn reference_count(
        calendar: &BusinessCalendar,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        running: impl Fn(DateTime<Utc>) -> bool,
    ) -> i64 {
        let minutes = (to - from).num_minutes();
        let open = (0..minutes)
            .map(|m| from + TimeDelta::minutes(m))
            .filter(|at| running(*at) && is_open(calendar, *at));
        open.count() as i64
    }

    fn has_open_minute(calendar: &BusinessCalendar) -> bool {
        calendar.hours.iter().any(|windows| !windows.is_empty())
    }

    /// Windows on quarter hours between 05:00 and 23:00. Every zone in `ZONES` changes its
    /// clocks at night, so no window boundary falls in a gap or fold: there the calendar's
    /// earliest-instant rule deliberately departs from the minute-by-minute definition.
    fn day_windows() -> impl Strategy<Value = Vec<OpeningWindow>> {
        let marks: Vec<u16> = (5 * 4..=23 * 4).map(|quarter| quarter * 15).collect();
        proptest::sample::subsequence(marks, 0..=4).prop_map(|marks| {
            marks
                .chunks_exact(2)
                .map(|pair| OpeningWindow {
                    opens: pair[0],
                    closes: pair[1],
                })
                .collect()
        })
    }

    /// Whole minutes in 2026–2027, half of them in the fortnight before a clock change.
    fn start_instant() -> impl Strategy<Value = DateTime<Utc>> {
        let base = utc("2026-01-01T00:00:00Z");
        let anywhere = (0..2 * 365 * 1440i64).prop_map(move |m| base + TimeDelta::minutes(m));
        let near_change = (
            proptest::sample::select(DST_CHANGES.to_vec()),
            -14 * 1440..2 * 1440i64,
        )
            .prop_map(|(day, m)| utc(&format!("{day}T00:00:00Z")) + TimeDelta::minutes(m));
        prop_oneof![anywhere, near_change]
    }

    fn average_open_day_minutes(calendar: &BusinessCalendar) -> i64 {
        let open_days = calendar.hours.iter().filter(|w| !w.is_empty()).count() as i64;
        let weekly: i64 = calendar
            .hours
            .iter()
            .flatten()
            .map(|w| i64::from(w.closes - w.opens))
            .sum();
        weekly / open_days.max(1)
    }

    fn scenario() -> impl Strategy<Value = Scenario> {
        let zone = proptest::sample::select(ZONES.to_vec());
        let weekly = proptest::array::uniform7(day_windows());
        let holidays = proptest::collection::vec(-1..40i64, 0..=10);
        let inputs = (zone, weekly, start_instant(), holidays, any::<u32>());
        (inputs, any::<bool>()).prop_map(
            |((time_zone, hours, start, holiday_offsets, fraction), on_quarters)| {
                let first = start.with_timezone(&time_zone).date_naive();
                let holidays = holiday_offsets
                    .into_iter()
                    .map(|offset| first + TimeDelta::days(offset))
                    .collect();
                let calendar = BusinessCalendar {
                    time_zone,
                    hours,
                    holidays,
                };
                let most = 3 * average_open_day_minutes(&calendar);
                let mut business_minutes = i64::from(fraction) % (most + 1);
                let mut start = start;
                // Quarter hours make walks start and end right on window boundaries, where
                // off-by-one mistakes live; every offset in `ZONES` is whole quarter hours.
                if on_quarters {
                    start -= TimeDelta::minutes(i64::from(start.minute() % 15));
                    business_minutes -= business_minutes % 15;
                }
                Scenario {
                    calendar,
                    start,
                    business_minutes,
                }
            },
        )
    }

    /// Gaps, in minutes, between alternate pause and resume events after the start.
    fn pause_gaps() -> impl Strategy<Value = Vec<i64>> {
        proptest::collection::vec(0..=2 * 1440i64, 0..=6)
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 64,
            // A failure prints its shrunk input; a regressions file would land beside the source.
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn elapsed_undoes_add(s in scenario()) {
            prop_assume!(has_open_minute(&s.calendar));
            let business = TimeDelta::minutes(s.business_minutes);
            let end = s.calendar.add(s.start, business).unwrap();
            prop_assert_eq!(s.calendar.elapsed(s.start, end), business);
        }

        #[test]
        fn add_matches_the_minute_walk(s in scenario()) {
            prop_assume!(has_open_minute(&s.calendar));
            let expected = reference_walk(&s.calendar, s.start, s.business_minutes, |_| true);
            let business = TimeDelta::minutes(s.business_minutes);
            prop_assert_eq!(s.calendar.add(s.start, business), Some(expected));
        }

        #[test]
        fn elapsed_matches_the_minute_count(s in scenario(), minutes in 1..=10 * 1440i64) {
            let end = s.start + TimeDelta::minutes(minutes);
            let expected = reference_count(&s.calendar, s.start, end, |_| true);
            prop_assert_eq!(s.calendar.elapsed(s.start, end), TimeDelta::minutes(expected));
        }

        #[test]
        fn paused_deadline_matches_the_minute_walk(s in scenario(), gaps in pause_gaps()) {
            prop_assume!(has_open_minute(&s.calendar));
            let events: Vec<DateTime<Utc>> = gaps
                .iter()
                .scan(s.start, |at, gap| {
                    *at += TimeDelta::minutes(*gap);
                    Some(*at)
                })
                .collect();
            let clock = events.iter().enumerate().fold(SlaClock::start(s.start), |clock, (i, at)| {
                if i % 2 == 0 { clock.pause(&s.calendar, *at) } else { clock.resume(*at) }
            });
            // Running at `at` when an even number of events (pause, resume, ...) came before it.
            let running = |at: DateTime<Utc>| events.iter().filter(|e| **e <= at).count() % 2 == 0;
            let last_event = events.last().copied().unwrap_or(s.start);
            let used = reference_count(&s.calendar, s.start, last_event, running);
            prop_assert_eq!(clock.consumed_at(&s.calendar, last_event), TimeDelta::minutes(used));
            let target = TimeDelta::minutes(s.business_minutes);
            let deadline = clock.deadline(&s.calendar, target);
            match clock.running_since {
                None => prop_assert_eq!(deadline, None),
                Some(since) => {
                    let breach = reference_walk(&s.calendar, s.start, s.business_minutes, running);
                    prop_assert_eq!(deadline, Some(breach.max(since)));
                }
            }
        }
    }
}
