//! The value-tiering policy in plain Rust, with no SDK types: `lib.rs` adapts it to the
//! `tiering-policy` world, and the host's tiering benchmark includes this file with `#[path]` to
//! run the same policy natively.
//!
//! Four dimensions, each scored 0–100, after the seed material's method:
//! - **value**: order value over 365 days against the high-value threshold;
//! - **activity**: orders and interactions over 90 days;
//! - **growth**: the last 90 days' order value, annualised, against the last 365 days';
//! - **closeness**: tenure and how recently we were in contact.
//!
//! The overall score weighs value 40 %, the others 20 % each. Churn signals (silence, orders
//! stopped, complaints, low satisfaction by the tenant's thresholds, plus the signals the host
//! computed from the customer's own history: contact falling below its prior rate, complaints
//! rising, orders stopped for over twice the usual interval) decide `churn-risk` first: two signals, or one for a customer whose value score
//! is at least 50. Then `high-value` from the threshold, `potential` for growth (or a prospect
//! already in active talks), else `regular`.

/// The tier catalogue as (id, label), in rank order.
pub const TIERS: [(&str, &str); 4] = [
    ("high-value", "High value"),
    ("potential", "Potential"),
    ("regular", "Regular"),
    ("churn-risk", "Churn risk"),
];

/// Tenant settings, with the defaults of the manifest's schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub high_value_order_value: f64,
    pub potential_growth_ratio: f64,
    pub potential_min_order_value: f64,
    pub silent_days: u32,
    pub stopped_order_days: u32,
    pub low_csat: f64,
    pub low_nps: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            high_value_order_value: 1_000_000.0,
            potential_growth_ratio: 1.5,
            potential_min_order_value: 10_000.0,
            silent_days: 60,
            stopped_order_days: 120,
            low_csat: 2.0,
            low_nps: 6.0,
        }
    }
}

impl Settings {
    /// Reads each setting through `get` (the tenant's value as text); the error names the first
    /// setting that is not a number.
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let mut settings = Settings::default();
        let number = |key: &str, into: &mut f64| -> Result<(), String> {
            if let Some(text) = get(key) {
                *into = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("{key} is not a number: {text}"))?;
            }
            Ok(())
        };
        number(
            "high_value_order_value",
            &mut settings.high_value_order_value,
        )?;
        number(
            "potential_growth_ratio",
            &mut settings.potential_growth_ratio,
        )?;
        number(
            "potential_min_order_value",
            &mut settings.potential_min_order_value,
        )?;
        number("low_csat", &mut settings.low_csat)?;
        number("low_nps", &mut settings.low_nps)?;
        let mut days = f64::from(settings.silent_days);
        number("silent_days", &mut days)?;
        settings.silent_days = days as u32;
        let mut days = f64::from(settings.stopped_order_days);
        number("stopped_order_days", &mut days)?;
        settings.stopped_order_days = days as u32;
        Ok(settings)
    }
}

/// What the policy looks at for one customer (a subset of the host's customer profile). Texts
/// live as long as the batch (`'a`); the host's signals are borrowed for the one decision
/// (`'s`), so that a batch can gather every customer's into one reused buffer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Facts<'s, 'a> {
    /// `lead`, `prospect`, `customer` or `churned`.
    pub lifecycle_stage: &'a str,
    pub tenure_days: u32,
    pub order_value_90d: f64,
    pub order_value_365d: f64,
    pub order_count_90d: u32,
    pub order_count_365d: u32,
    pub days_since_last_order: Option<u32>,
    pub interaction_count_30d: u32,
    pub interaction_count_90d: u32,
    pub days_since_last_contact: Option<u32>,
    pub open_complaints: u32,
    pub complaints_90d: u32,
    pub latest_csat: Option<f64>,
    pub latest_nps: Option<f64>,
    /// The churn signals the host found in the customer's own history, with their evidence.
    pub host_signals: &'s [(HostSignal, &'a str)],
}

/// The kinds of churn signal the host computes (WIT `churn-signal-kind`, since 0.2.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostSignal {
    ContactFalling,
    ComplaintsRising,
    SatisfactionLow,
    OrdersStopped,
}

/// The policy's decision for one customer, whole, as its tests read it.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict<'a> {
    /// One of the ids of [`TIERS`].
    pub tier: &'static str,
    pub score: f64,
    pub reasons: Vec<Reason<'a>>,
}

/// A sentence a manager can read, kept as its values until it is written out (`Display`): the
/// wasm build writes it straight into the answer's shared text, with no `String` of its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason<'a> {
    NoContactFor(u32),
    NeverContacted,
    NoOrderFor(u32),
    Complaints {
        open: u32,
        in_90_days: u32,
    },
    LatestCsat(f64),
    LatestNps(f64),
    /// A churn signal the host found, in its own words.
    Host(&'a str),
    HighValue {
        order_value: f64,
        threshold: f64,
    },
    Growing {
        ratio: f64,
    },
    ActiveProspect {
        interactions_90d: u32,
    },
    Value {
        order_value: f64,
        orders: u32,
        score: f64,
    },
    Dimensions {
        activity: f64,
        growth: f64,
        closeness: f64,
    },
}

impl std::fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Reason::NoContactFor(days) => write!(f, "no contact for {days} days"),
            Reason::NeverContacted => f.write_str("never contacted"),
            Reason::NoOrderFor(days) => {
                write!(f, "no order for {days} days after ordering this year")
            }
            Reason::Complaints { open, in_90_days } => {
                write!(f, "{open} open complaints, {in_90_days} in 90 days")
            }
            Reason::LatestCsat(csat) => write!(f, "latest CSAT {csat}"),
            Reason::LatestNps(nps) => write!(f, "latest NPS {nps} (detractor)"),
            Reason::Host(detail) => f.write_str(detail),
            Reason::HighValue {
                order_value,
                threshold,
            } => write!(
                f,
                "orders {} over 365 days, at least {}",
                Amount(order_value),
                Amount(threshold)
            ),
            Reason::Growing { ratio } => write!(
                f,
                "orders growing: last 90 days at {ratio:.1}× the yearly rate"
            ),
            Reason::ActiveProspect { interactions_90d } => write!(
                f,
                "prospect in active talks: {interactions_90d} interactions in 90 days"
            ),
            Reason::Value {
                order_value,
                orders,
                score,
            } => write!(
                f,
                "orders {} over 365 days ({orders} orders), value score {}",
                Amount(order_value),
                Whole(score)
            ),
            Reason::Dimensions {
                activity,
                growth,
                closeness,
            } => write!(
                f,
                "activity {}, growth {}, closeness {}",
                Whole(activity),
                Whole(growth),
                Whole(closeness)
            ),
        }
    }
}

impl<'a> Reason<'a> {
    /// The same sentence as a template with its numbers and texts, for the host to write out
    /// (WIT 0.4.0), which costs the plugin no formatting; `tests/plugin_policies.rs` checks that
    /// the host's writing reads as `Display`.
    pub fn template(&self, write: impl FnOnce(&'static str, &[f64], &[&'a str])) {
        // One call of `write`, after the match, so that the caller's closure is inlined once.
        let (template, numbers, texts): (_, &[f64], &[&'a str]) = match *self {
            Reason::NoContactFor(days) => ("no contact for {} days", &[f64::from(days)], &[]),
            Reason::NeverContacted => ("never contacted", &[], &[]),
            Reason::NoOrderFor(days) => (
                "no order for {} days after ordering this year",
                &[f64::from(days)],
                &[],
            ),
            Reason::Complaints { open, in_90_days } => (
                "{} open complaints, {} in 90 days",
                &[f64::from(open), f64::from(in_90_days)],
                &[],
            ),
            Reason::LatestCsat(csat) => ("latest CSAT {}", &[csat], &[]),
            Reason::LatestNps(nps) => ("latest NPS {} (detractor)", &[nps], &[]),
            Reason::Host(detail) => ("{text}", &[], &[detail]),
            Reason::HighValue {
                order_value,
                threshold,
            } => (
                "orders {:,} over 365 days, at least {:,}",
                &[non_negative(order_value), non_negative(threshold)],
                &[],
            ),
            Reason::Growing { ratio } => (
                "orders growing: last 90 days at {:.1}× the yearly rate",
                &[ratio],
                &[],
            ),
            Reason::ActiveProspect { interactions_90d } => (
                "prospect in active talks: {} interactions in 90 days",
                &[f64::from(interactions_90d)],
                &[],
            ),
            Reason::Value {
                order_value,
                orders,
                score,
            } => (
                "orders {:,} over 365 days ({} orders), value score {:.0}",
                &[non_negative(order_value), f64::from(orders), score],
                &[],
            ),
            Reason::Dimensions {
                activity,
                growth,
                closeness,
            } => (
                "activity {:.0}, growth {:.0}, closeness {:.0}",
                &[activity, growth, closeness],
                &[],
            ),
        };
        write(template, numbers, texts);
    }
}

fn clamp_score(value: f64) -> f64 {
    value.clamp(0.0, 100.0)
}

// In wasm, `f64::max` and `f64::round` are calls of libm's software versions (wasm's own `max`
// treats NaN differently, and it has no `round`), which took 2.4% of a batch in the component;
// comparisons and `trunc` are single instructions. Both builds bound amounts by comparison (so
// both read -0.0 as 0); only the component rounds by `trunc`, tested equal to `f64::round`.

/// `value` when above `floor`, else `floor` (also for NaN), as `value.max(floor)` reads it.
fn at_least(value: f64, floor: f64) -> f64 {
    if value > floor { value } else { floor }
}

/// Amounts below zero (and NaN) count as 0.
fn non_negative(value: f64) -> f64 {
    at_least(value, 0.0)
}

/// `value` to the nearest whole, halves away from zero: `f64::round`, except in wasm.
#[cfg(target_arch = "wasm32")]
fn round_half_away(value: f64) -> f64 {
    round_by_trunc(value)
}

/// Natively `f64::round` is the fastest exact way (the native build is the benchmark's baseline).
#[cfg(not(target_arch = "wasm32"))]
fn round_half_away(value: f64) -> f64 {
    value.round()
}

/// As `f64::round`, from `trunc`. Without a branch: a score's fraction is as likely below a half
/// as above it, so a branch would be mispredicted often.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn round_by_trunc(value: f64) -> f64 {
    let whole = value.trunc();
    let away = f64::from(u8::from((value - whole).abs() >= 0.5));
    // When not away, adding a zero of the value's sign keeps -0.0 as -0.0.
    whole + away.copysign(value)
}

/// A money amount to the nearest whole, digits grouped by thousands: `1234567.8` →
/// `1,234,568`; negative amounts read as 0.
struct Amount(f64);

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = non_negative(self.0);
        if let Some((negative, magnitude)) = exact_whole(value) {
            if negative {
                f.write_str("-")?;
            }
            return grouped(f, magnitude);
        }
        let digits = format!("{value:.0}");
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index).is_multiple_of(3) {
                f.write_str(",")?;
            }
            write!(f, "{digit}")?;
        }
        Ok(())
    }
}

/// `number` with a comma between groups of three digits.
fn grouped(f: &mut std::fmt::Formatter<'_>, number: u64) -> std::fmt::Result {
    if number < 1000 {
        return write!(f, "{number}");
    }
    grouped(f, number / 1000)?;
    write!(f, ",{:03}", number % 1000)
}

/// `value` to the nearest whole (ties to even) as its sign and magnitude, when that whole is
/// below 2^53, where every whole f64 is exact and converts to u64 unchanged.
fn exact_whole(value: f64) -> Option<(bool, u64)> {
    let rounded = value.round_ties_even();
    (rounded.abs() < 9_007_199_254_740_992.0)
        .then(|| (rounded.is_sign_negative(), rounded.abs() as u64))
}

/// A number written as `{:.0}` writes it (to the nearest whole, ties to even, keeping a minus
/// sign), through integer formatting when it fits: `{:.0}` takes core's exact float path, which
/// falls back to big-number arithmetic for every whole value (the clamped 0 and 100 scores,
/// round thresholds), and was most of the policy's time.
struct Whole(f64);

impl std::fmt::Display for Whole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match exact_whole(self.0) {
            Some((negative, magnitude)) => {
                if negative {
                    f.write_str("-")?;
                }
                write!(f, "{magnitude}")
            }
            None => write!(f, "{:.0}", self.0),
        }
    }
}

struct Dimensions {
    value: f64,
    activity: f64,
    growth: f64,
    closeness: f64,
    /// Annualised 90-day order value over 365-day order value.
    growth_ratio: f64,
}

fn dimensions(facts: &Facts, settings: &Settings) -> Dimensions {
    let value = clamp_score(100.0 * facts.order_value_365d / settings.high_value_order_value);
    let activity = clamp_score(
        f64::from(facts.order_count_90d) * 15.0 + f64::from(facts.interaction_count_90d) * 10.0,
    );
    let growth_ratio = if facts.order_value_365d > 0.0 {
        4.0 * facts.order_value_90d / facts.order_value_365d
    } else {
        0.0
    };
    let growth = clamp_score(
        (growth_ratio - 0.5) * 100.0 / at_least(settings.potential_growth_ratio - 0.5, 0.1),
    );
    let tenure = clamp_score(f64::from(facts.tenure_days) / 1095.0 * 100.0);
    let recency = facts.days_since_last_contact.map_or(0.0, |days| {
        clamp_score(100.0 - 100.0 * f64::from(days) / f64::from(settings.silent_days.max(1)))
    });
    Dimensions {
        value,
        activity,
        growth,
        closeness: 0.4 * tenure + 0.6 * recency,
        growth_ratio,
    }
}

/// Why the customer might leave, added to `signals`; each entry is a reason a manager can read.
fn churn_signals<'a>(facts: &Facts<'_, 'a>, settings: &Settings, signals: &mut Vec<Reason<'a>>) {
    match facts.days_since_last_contact {
        Some(days) if days >= settings.silent_days => signals.push(Reason::NoContactFor(days)),
        None if facts.tenure_days >= settings.silent_days => signals.push(Reason::NeverContacted),
        _ => {}
    }
    let mut stopped = false;
    if let Some(days) = facts.days_since_last_order
        && days >= settings.stopped_order_days
        && facts.order_count_365d > 0
    {
        signals.push(Reason::NoOrderFor(days));
        stopped = true;
    }
    if facts.open_complaints > 0 || facts.complaints_90d >= 2 {
        signals.push(Reason::Complaints {
            open: facts.open_complaints,
            in_90_days: facts.complaints_90d,
        });
    }
    let before = signals.len();
    if let Some(csat) = facts.latest_csat.filter(|csat| *csat <= settings.low_csat) {
        signals.push(Reason::LatestCsat(csat));
    }
    if let Some(nps) = facts.latest_nps.filter(|nps| *nps <= settings.low_nps) {
        signals.push(Reason::LatestNps(nps));
    }
    let unhappy = signals.len() > before;
    // The host measures the patterns against the customer's own past; the tenant's thresholds
    // above already speak for stopped orders and satisfaction when they fired.
    for &(kind, detail) in facts.host_signals {
        let already = match kind {
            HostSignal::OrdersStopped => stopped,
            HostSignal::SatisfactionLow => unhappy,
            HostSignal::ContactFalling | HostSignal::ComplaintsRising => false,
        };
        if !already {
            signals.push(Reason::Host(detail));
        }
    }
}

#[cfg(test)]
pub fn decide<'a>(facts: &Facts<'_, 'a>, settings: &Settings) -> Verdict<'a> {
    let mut reasons = Vec::new();
    let (tier, score) = decide_into(facts, settings, &mut reasons);
    Verdict {
        tier,
        score,
        reasons,
    }
}

/// The customer's tier and score, with the reasons written into `reasons` (cleared first) so
/// that a batch reuses one buffer: allocating was the dearest thing the policy did per customer,
/// most of all in wasm, where the allocator is compiled code too.
pub fn decide_into<'a>(
    facts: &Facts<'_, 'a>,
    settings: &Settings,
    reasons: &mut Vec<Reason<'a>>,
) -> (&'static str, f64) {
    let dims = dimensions(facts, settings);
    let score = (0.4 * dims.value + 0.2 * (dims.activity + dims.growth + dims.closeness)) * 100.0;
    let score = round_half_away(score) / 100.0;
    let value_reason = Reason::Value {
        order_value: facts.order_value_365d,
        orders: facts.order_count_365d,
        score: dims.value,
    };
    reasons.clear();
    churn_signals(facts, settings, reasons);
    let signals = reasons.len();
    let at_risk = signals >= 2 || (signals > 0 && dims.value >= 50.0);
    let tier = if at_risk {
        "churn-risk"
    } else {
        reasons.clear();
        if facts.order_value_365d >= settings.high_value_order_value {
            reasons.push(Reason::HighValue {
                order_value: facts.order_value_365d,
                threshold: settings.high_value_order_value,
            });
            "high-value"
        } else if facts.order_value_365d >= settings.potential_min_order_value
            && dims.growth_ratio >= settings.potential_growth_ratio
        {
            reasons.push(Reason::Growing {
                ratio: dims.growth_ratio,
            });
            "potential"
        } else if facts.lifecycle_stage == "prospect" && facts.interaction_count_90d >= 3 {
            reasons.push(Reason::ActiveProspect {
                interactions_90d: facts.interaction_count_90d,
            });
            "potential"
        } else {
            "regular"
        }
    };
    reasons.push(value_reason);
    reasons.push(Reason::Dimensions {
        activity: dims.activity,
        growth: dims.growth,
        closeness: dims.closeness,
    });
    (tier, score)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts<'static, 'static> {
        Facts {
            lifecycle_stage: "customer",
            tenure_days: 700,
            days_since_last_contact: Some(10),
            interaction_count_30d: 1,
            interaction_count_90d: 3,
            ..Facts::default()
        }
    }

    #[test]
    fn each_tier_for_its_reason() {
        let settings = Settings::default();
        let big = Facts {
            order_value_365d: 1_200_000.0,
            order_value_90d: 300_000.0,
            order_count_365d: 12,
            days_since_last_order: Some(20),
            ..facts()
        };
        let verdict = decide(&big, &settings);
        assert_eq!(verdict.tier, "high-value");
        assert_eq!(
            verdict.reasons[0].to_string(),
            "orders 1,200,000 over 365 days, at least 1,000,000"
        );
        let silent_big = Facts {
            days_since_last_contact: Some(41 + 60),
            ..big
        };
        assert_eq!(decide(&silent_big, &settings).tier, "churn-risk");
        let growing = Facts {
            order_value_365d: 100_000.0,
            order_value_90d: 80_000.0,
            order_count_365d: 3,
            ..facts()
        };
        assert_eq!(decide(&growing, &settings).tier, "potential");
        let small = Facts {
            order_value_365d: 50_000.0,
            order_value_90d: 12_500.0,
            ..facts()
        };
        assert_eq!(decide(&small, &settings).tier, "regular");
        let unhappy = Facts {
            latest_csat: Some(1.0),
            open_complaints: 1,
            ..small
        };
        let verdict = decide(&unhappy, &settings);
        assert_eq!(verdict.tier, "churn-risk");
        assert!(verdict.reasons.contains(&Reason::LatestCsat(1.0)));
        assert!(
            verdict
                .reasons
                .iter()
                .any(|r| r.to_string() == "latest CSAT 1")
        );
    }

    #[test]
    fn host_signals_count_once() {
        let settings = Settings::default();
        let big = Facts {
            order_value_365d: 800_000.0,
            order_value_90d: 200_000.0,
            order_count_365d: 4,
            days_since_last_order: Some(20),
            ..facts()
        };
        let falling = (
            HostSignal::ContactFalling,
            "1 contacts in 90 days against 6.2 a quarter over the year before",
        );
        let cooling = Facts {
            host_signals: &[falling],
            ..big
        };
        let verdict = decide(&cooling, &settings);
        assert_eq!(
            verdict.tier, "churn-risk",
            "one signal is enough for a valuable customer"
        );
        assert_eq!(verdict.reasons[0].to_string(), falling.1);
        // The tenant's own satisfaction threshold already fired: the host's is not counted again.
        let small_unhappy = Facts {
            order_value_365d: 5_000.0,
            latest_csat: Some(2.0),
            host_signals: &[(HostSignal::SatisfactionLow, "latest CSAT 2")],
            ..facts()
        };
        let verdict = decide(&small_unhappy, &settings);
        assert_eq!(verdict.tier, "regular", "{verdict:?}");
    }

    #[test]
    fn whole_numbers_are_written_as_the_exact_float_path_writes_them() {
        let values = [
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            -2.5,
            -0.4,
            99.5,
            100.0,
            0.49999999999999994,
            1_234_567.5,
            4_503_599_627_370_495.5,
            9_007_199_254_740_993.0,
            1e20,
            -1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for value in values {
            assert_eq!(Whole(value).to_string(), format!("{value:.0}"), "{value:?}");
        }
    }

    #[test]
    fn rounding_by_trunc_is_rounding() {
        // The component rounds by `trunc`, the native build with `f64::round`: they must agree.
        let values = [
            0.0,
            -0.0,
            0.3,
            -0.3,
            0.5,
            -0.5,
            1.5,
            2.5,
            -2.5,
            0.49999999999999994,
            -0.49999999999999994,
            4_503_599_627_370_495.5,
            4_503_599_627_370_497.0,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for value in values {
            let (by_trunc, by_round) = (round_by_trunc(value), value.round());
            let message = format!("{value:?}: {by_trunc} vs {by_round}");
            assert_eq!(by_trunc.to_bits(), by_round.to_bits(), "{message}");
        }
        assert!(round_by_trunc(f64::NAN).is_nan());
        assert_eq!(non_negative(f64::NAN), 0.0);
        assert_eq!(non_negative(-0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(at_least(0.05, 0.1), 0.1);
    }

    /// Digits grouped the way the policy wrote amounts before it grouped integers itself
    /// (negative zero and NaN read as 0, as other negative amounts do).
    fn grouped_by_text(value: f64) -> String {
        let value = if value > 0.0 { value } else { 0.0 };
        let digits = format!("{value:.0}");
        let mut grouped = String::new();
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        grouped
    }

    #[test]
    fn amounts_are_grouped_by_thousands() {
        assert_eq!(Amount(1_234_567.8).to_string(), "1,234,568");
        assert_eq!(Amount(-5.0).to_string(), "0");
        // `f64::max` gave -0.0 here natively (written "-0") and 0.0 in wasm.
        assert_eq!(Amount(-0.0).to_string(), "0");
        let values = [
            0.0,
            -0.0,
            0.4,
            999.0,
            999.5,
            1_000.0,
            1_000.49,
            12_345.0,
            100_000.0,
            1_000_000.0,
            999_999_999.5,
            1e15,
            4_503_599_627_370_495.5,
            9.1e15,
            1e20,
            f64::NAN,
            f64::INFINITY,
        ];
        for value in values {
            assert_eq!(
                Amount(value).to_string(),
                grouped_by_text(value),
                "{value:?}"
            );
        }
    }

    #[test]
    fn settings_are_read_and_bad_ones_named() {
        let settings = Settings::read(|key| (key == "silent_days").then(|| "30".into())).unwrap();
        assert_eq!(settings.silent_days, 30);
        let error = Settings::read(|key| (key == "low_nps").then(|| "high".into())).unwrap_err();
        assert!(error.contains("low_nps"));
    }
}
