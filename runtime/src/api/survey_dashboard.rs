//! The satisfaction dashboard for staff, at `/surveys/dashboard`: one static HTML page that asks
//! for an API token and draws the month's survey KPIs (`GET /api/v1/surveys/kpis`) as headline
//! cards and inline SVG charts, overall or per tier, owner or department.
//!
//! The page itself holds no data, so it is served to anyone; the figures come from the API with
//! the bearer token the user types in, which the page keeps in `sessionStorage` only (never in
//! `localStorage`, a cookie or the URL). Nothing is loaded from elsewhere: styles and script are
//! inline, the script allowed by a per-response nonce in the Content-Security-Policy, and it
//! builds every element from the API's data with the DOM (text nodes and attributes, never
//! `innerHTML`), so nothing in the data can become markup.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use rand::RngCore;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::domain::service_kpi::Month;

/// The HTML page, at the root.
pub fn page_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dashboard_page))
}

/// The satisfaction dashboard: CSAT, NPS, CES and response rate of a month against the month
/// before, overall or grouped. The page asks for an API token and reads `/api/v1/surveys/kpis`.
#[utoipa::path(get, path = "/surveys/dashboard", tag = "surveys",
    responses((status = 200, content_type = "text/html")))]
async fn dashboard_page() -> Response {
    let nonce = nonce();
    let month = Month::of(Utc::now()).label();
    let mut response = Html(page(&nonce, &month).into_string()).into_response();
    let policy = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&policy).expect("the policy is ASCII"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex, nofollow"),
    );
    response
}

/// 128 random bits, base64: fresh for every response, so an injected script cannot guess it.
fn nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

const STYLE: &str = "
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f5f6f8;color:#1d2330;line-height:1.5}
main{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.25rem;margin:.25rem 0 1rem}
h2{font-size:1rem;margin:1.5rem 0 .5rem}
form{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end;background:#fff;border-radius:.75rem;padding:1rem;box-shadow:0 1px 3px #0002}
label{display:flex;flex-direction:column;font-size:.8125rem;color:#5b6475;flex:1 1 10rem}
input,select,button{font:inherit;padding:.45rem .6rem;border:1px solid #c8cdd6;border-radius:.4rem;background:#fff;color:inherit}
button{background:#1f4fbf;border-color:#1f4fbf;color:#fff;font-weight:600;cursor:pointer;flex:0 0 auto}
button:disabled{opacity:.6;cursor:wait}
#error{margin:1rem 0 0;padding:.75rem 1rem;border-radius:.5rem;background:#fdecec;color:#9b1c1c}
#error:empty{display:none}
#status{color:#5b6475;font-size:.875rem;margin:.75rem 0 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(13rem,1fr));gap:.75rem;margin-top:1rem}
.card{background:#fff;border-radius:.75rem;padding:1rem 1.25rem;box-shadow:0 1px 3px #0002}
.card h2{margin:0;font-size:.875rem;color:#5b6475;font-weight:600}
.card .figure{margin:.25rem 0;font-size:2rem;font-weight:700}
.card .unit{font-size:1rem;color:#5b6475;margin-left:.15rem}
.card .delta,.card .basis{margin:0;font-size:.8125rem;color:#5b6475}
.card .delta.good{color:#15803d}
.card .delta.bad{color:#b91c1c}
.chart{background:#fff;border-radius:.75rem;padding:1rem;box-shadow:0 1px 3px #0002;overflow-x:auto}
.chart svg{display:block;width:100%;height:auto;min-width:18rem}
.chart text{font-size:11px;fill:#5b6475}
.legend{display:flex;gap:1rem;font-size:.8125rem;color:#5b6475;margin:.5rem 0 0}
.legend span::before{content:'';display:inline-block;width:.75rem;height:.75rem;border-radius:.15rem;margin-right:.35rem;vertical-align:-.1rem;background:var(--swatch)}
.empty{color:#5b6475;font-size:.875rem}
";

/// Reads the form, fetches the KPIs with the stored token, and draws them. Every value from the
/// API reaches the page through `textContent` or `setAttribute`.
const SCRIPT: &str = r#"
'use strict';
(() => {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const TOKEN_KEY = 'rapport.api-token';
  const COLORS = { csat_percent: '#1f4fbf', response_rate: '#0f9d8a', dimension: '#7c4dff' };
  const NONE_LABEL = { tier: 'No tier', owner: 'No owner', department: 'No department' };
  const $ = (id) => document.getElementById(id);

  function svg(name, attributes, text) {
    const element = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attributes || {})) {
      element.setAttribute(key, String(value));
    }
    if (text !== undefined) element.textContent = text;
    return element;
  }

  const isNumber = (value) => typeof value === 'number' && Number.isFinite(value);
  const oneDecimal = (value) => (isNumber(value) ? value.toFixed(1) : '—');
  const percent = (value) => (isNumber(value) ? value.toFixed(1) + '%' : '—');

  function signedDelta(delta) {
    if (!isNumber(delta)) return { text: '—', direction: 0 };
    const rounded = Math.round(delta * 10) / 10;
    if (rounded > 0) return { text: '▲ +' + rounded.toFixed(1), direction: 1 };
    if (rounded < 0) return { text: '▼ −' + Math.abs(rounded).toFixed(1), direction: -1 };
    return { text: '► 0.0', direction: 0 };
  }

  function clip(text, length) {
    return text.length > length ? text.slice(0, length - 1) + '…' : text;
  }

  function groupLabel(groupBy, key) {
    if (key === null || key === undefined) return NONE_LABEL[groupBy] || 'None';
    return groupBy === 'tier' ? String(key) : '#' + key;
  }

  function showCard(id, metric, previousMonth) {
    const card = $(id);
    const value = metric && isNumber(metric.value) ? metric.value : null;
    card.querySelector('.value').textContent = oneDecimal(value);
    const delta = signedDelta(metric ? metric.delta : null);
    const deltaElement = card.querySelector('.delta');
    deltaElement.textContent = previousMonth && delta.text !== '—'
      ? delta.text + ' vs ' + previousMonth
      : delta.text;
    const better = card.dataset.better === 'lower' ? -1 : 1;
    deltaElement.classList.toggle('good', delta.direction * better > 0);
    deltaElement.classList.toggle('bad', delta.direction * better < 0);
    const basis = metric && isNumber(metric.basis) ? metric.basis : 0;
    card.querySelector('.basis').textContent = basis + ' ' + card.dataset.unit;
  }

  function emptyNote(chart, width, height) {
    chart.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    chart.appendChild(svg('text', { x: 8, y: 20 }, 'No data for this month.'));
  }

  const METRICS = [
    ['csat_percent', 'CSAT'],
    ['response_rate', 'Response rate'],
  ];

  function drawGroups(data) {
    const chart = $('chart-groups');
    chart.replaceChildren();
    const groups = data.group_by
      ? data.groups
      : [{ key: 'all', label: 'All customers', figures: data.overall }];
    if (!Array.isArray(groups) || groups.length === 0) return emptyNote(chart, 400, 40);
    const top = 16, plot = 160, left = 36, slot = 84, bar = 26;
    const width = left + groups.length * slot + 8;
    chart.setAttribute('viewBox', '0 0 ' + width + ' ' + (top + plot + 40));
    for (const tick of [0, 50, 100]) {
      const y = top + plot - (tick / 100) * plot;
      chart.appendChild(svg('line', { x1: left, x2: width, y1: y, y2: y, stroke: '#e3e6ec' }));
      chart.appendChild(svg('text', { x: left - 4, y: y + 4, 'text-anchor': 'end' }, tick + '%'));
    }
    groups.forEach((group, index) => {
      const key = group.key === null || group.key === undefined ? '' : String(group.key);
      const label = group.label || groupLabel(data.group_by, group.key);
      const x = left + index * slot + (slot - 2 * bar - 4) / 2;
      const g = svg('g');
      METRICS.forEach(([metric, name], position) => {
        const figure = (group.figures || {})[metric] || {};
        const value = isNumber(figure.value) ? Math.max(0, Math.min(100, figure.value)) : 0;
        const height = (value / 100) * plot;
        const rect = svg('rect', {
          x: x + position * (bar + 4), y: top + plot - height, width: bar, height: height,
          rx: 2, fill: COLORS[metric], 'data-key': key, 'data-metric': metric,
        });
        const basis = isNumber(figure.basis) ? figure.basis : 0;
        rect.appendChild(svg('title', {},
          label + ' · ' + name + ': ' + percent(figure.value) + ' (n = ' + basis + ')'));
        g.appendChild(rect);
        if (!isNumber(figure.value)) {
          g.appendChild(svg('text', {
            x: x + position * (bar + 4) + bar / 2, y: top + plot - 4, 'text-anchor': 'middle',
          }, '—'));
        }
      });
      const text = svg('text', { x: left + index * slot + slot / 2, y: top + plot + 16, 'text-anchor': 'middle' },
        clip(label, 12));
      text.appendChild(svg('title', {}, label));
      g.appendChild(text);
      chart.appendChild(g);
    });
  }

  function drawDimensions(data) {
    const chart = $('chart-dimensions');
    chart.replaceChildren();
    const means = (data.overall && data.overall.dimension_means) || {};
    const keys = Object.keys(means).sort();
    if (keys.length === 0) return emptyNote(chart, 400, 40);
    const scale = 5, row = 28, labelWidth = 150, barWidth = 300;
    chart.setAttribute('viewBox', '0 0 ' + (labelWidth + barWidth + 60) + ' ' + (keys.length * row + 8));
    keys.forEach((key, index) => {
      const metric = means[key] || {};
      const y = index * row + 4;
      const value = isNumber(metric.value) ? Math.max(0, Math.min(scale, metric.value)) : 0;
      chart.appendChild(svg('text', { x: labelWidth - 8, y: y + 15, 'text-anchor': 'end' }, clip(key, 22)));
      const rect = svg('rect', {
        x: labelWidth, y: y, width: (value / scale) * barWidth, height: row - 8, rx: 2,
        fill: COLORS.dimension, 'data-key': key,
      });
      const basis = isNumber(metric.basis) ? metric.basis : 0;
      const delta = signedDelta(metric.delta).text;
      rect.appendChild(svg('title', {},
        key + ': ' + oneDecimal(metric.value) + ' of ' + scale + ' (n = ' + basis + ', ' + delta + ')'));
      chart.appendChild(rect);
      chart.appendChild(svg('text', { x: labelWidth + (value / scale) * barWidth + 6, y: y + 15 },
        oneDecimal(metric.value)));
    });
  }

  function render(data) {
    $('error').textContent = '';
    const overall = data.overall || {};
    showCard('csat', overall.csat_percent, data.previous_month);
    showCard('nps', overall.nps, data.previous_month);
    showCard('ces', overall.ces_mean, data.previous_month);
    showCard('response-rate', overall.response_rate, data.previous_month);
    drawGroups(data);
    drawDimensions(data);
    $('status').textContent = 'Showing ' + data.month + ', compared with ' + data.previous_month + '.';
  }

  function fail(message) {
    $('error').textContent = message;
    $('status').textContent = '';
    $('chart-groups').replaceChildren();
    $('chart-dimensions').replaceChildren();
    for (const id of ['csat', 'nps', 'ces', 'response-rate']) showCard(id, null, null);
  }

  async function load(event) {
    event.preventDefault();
    const token = $('token').value.trim();
    if (!token) return fail('Enter an API token.');
    sessionStorage.setItem(TOKEN_KEY, token);
    const query = new URLSearchParams();
    if ($('month').value) query.set('month', $('month').value);
    if ($('group-by').value) query.set('group_by', $('group-by').value);
    const button = $('load');
    button.disabled = true;
    try {
      const response = await fetch('/api/v1/surveys/kpis?' + query.toString(), {
        headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        if (response.status === 401) sessionStorage.removeItem(TOKEN_KEY);
        const message = body && body.error && typeof body.error.message === 'string'
          ? body.error.message
          : 'The request failed (HTTP ' + response.status + ').';
        return fail(message);
      }
      if (!body || typeof body !== 'object' || !body.overall) {
        return fail('The server answered with something other than survey KPIs.');
      }
      render(body);
    } catch (error) {
      fail('The server could not be reached: ' + (error && error.message ? error.message : error));
    } finally {
      button.disabled = false;
    }
  }

  $('token').value = sessionStorage.getItem(TOKEN_KEY) || '';
  $('filters').addEventListener('submit', load);
})();
"#;

fn card(id: &str, title: &str, unit: &str, basis_unit: &str, better: &str) -> Markup {
    html! {
        section class="card" id=(id) data-unit=(basis_unit) data-better=(better) {
            h2 { (title) }
            p class="figure" { span class="value" { "—" } @if !unit.is_empty() { span class="unit" { (unit) } } }
            p class="delta" { "—" }
            p class="basis" { "0 " (basis_unit) }
        }
    }
}

fn page(nonce: &str, month: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                meta name="referrer" content="no-referrer";
                title { "Satisfaction dashboard" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { "Satisfaction dashboard" }
                    // No `name` on the fields: should the script not run, submitting sends nothing.
                    form id="filters" autocomplete="off" {
                        label for="token" { "API token"
                            input id="token" type="password" autocomplete="off" spellcheck="false" required;
                        }
                        label for="month" { "Month"
                            input id="month" type="month" value=(month) required;
                        }
                        label for="group-by" { "Group by"
                            select id="group-by" {
                                option value="" selected { "None" }
                                option value="tier" { "Tier" }
                                option value="owner" { "Account owner" }
                                option value="department" { "Department" }
                            }
                        }
                        button id="load" type="submit" { "Load" }
                    }
                    p id="error" role="alert" {}
                    p id="status" aria-live="polite" {}
                    div class="cards" {
                        (card("csat", "CSAT (satisfied)", "%", "responses", "higher"))
                        (card("nps", "NPS", "", "responses", "higher"))
                        (card("ces", "CES (mean effort)", "", "responses", "lower"))
                        (card("response-rate", "Response rate", "%", "deliveries", "higher"))
                    }
                    h2 { "CSAT and response rate by group" }
                    div class="chart" {
                        svg id="chart-groups" xmlns="http://www.w3.org/2000/svg" role="img"
                            aria-label="CSAT and response rate per group, in percent" {}
                        p class="legend" {
                            span style="--swatch:#1f4fbf" { "CSAT %" }
                            span style="--swatch:#0f9d8a" { "Response rate %" }
                        }
                    }
                    h2 { "Dimension means (1–5)" }
                    div class="chart" {
                        svg id="chart-dimensions" xmlns="http://www.w3.org/2000/svg" role="img"
                            aria-label="Mean rating per survey dimension" {}
                    }
                }
                script nonce=(nonce) { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fetch() -> (Response, String) {
        let response = dashboard_page().await;
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (
            Response::from_parts(parts, axum::body::Body::empty()),
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    fn header(response: &Response, name: HeaderName) -> &str {
        response.headers()[name].to_str().unwrap()
    }

    #[tokio::test]
    async fn the_script_runs_under_a_fresh_nonce_and_nothing_else() {
        let (response, body) = fetch().await;
        let policy = header(&response, header::CONTENT_SECURITY_POLICY);
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap();
        assert_eq!(nonce.len(), 24);
        assert!(body.contains(&format!("<script nonce=\"{nonce}\">")));
        assert_eq!(body.matches("<script").count(), 1);
        assert!(policy.starts_with("default-src 'none';"));
        assert!(policy.contains("connect-src 'self'"));
        assert!(policy.contains("style-src 'unsafe-inline'"));
        assert!(!policy.contains("unsafe-eval"));
        assert_eq!(header(&response, header::CACHE_CONTROL), "no-store");

        let (again, _) = fetch().await;
        assert_ne!(header(&again, header::CONTENT_SECURITY_POLICY), policy);
    }

    #[tokio::test]
    async fn the_page_has_the_form_cards_and_charts() {
        let (response, body) = fetch().await;
        assert!(header(&response, header::CONTENT_TYPE).starts_with("text/html"));
        for id in [
            "token",
            "month",
            "group-by",
            "load",
            "error",
            "csat",
            "nps",
            "ces",
            "response-rate",
            "chart-groups",
            "chart-dimensions",
        ] {
            assert!(body.contains(&format!("id=\"{id}\"")), "no #{id}");
        }
        let month = Month::of(Utc::now()).label();
        assert!(body.contains(&format!("type=\"month\" value=\"{month}\"")));
        assert!(body.contains("role=\"alert\""));
        assert!(body.contains("name=\"viewport\""));
        // The token stays out of URLs and long-lived storage; nothing is fetched from elsewhere.
        assert!(!body.contains(" name=\"token\""));
        assert!(!body.contains("localStorage"));
        assert!(!body.contains("innerHTML"));
        assert!(!body.contains("https://"));
        assert!(body.contains("/api/v1/surveys/kpis?"));
    }
}
