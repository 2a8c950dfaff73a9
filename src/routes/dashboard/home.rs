//! `GET /dashboard`: today's and this month's paid volume, the sessions of today by status,
//! the conversion funnel of the last seven days per route, and the endpoints that fail.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::Arc;

use askama::Template;
use time::OffsetDateTime;

use super::{Chrome, error_page, render, viewer};
use crate::db::dashboard::{
    FunnelLine, failing_endpoints, funnel_since, paid_since, sessions_since,
};
use crate::domain::time::now_ms;
use crate::i18n::Catalog;
use crate::state::AppState;

/// The home page.
#[derive(Template)]
#[template(path = "dashboard/home.html")]
struct HomePage {
    chrome: Chrome,
    today_volume: String,
    today_count: i64,
    month_volume: String,
    month_count: i64,
    /// (status, count) of today's sessions.
    sessions: Vec<(String, i64)>,
    /// (id, url) of endpoints that fail.
    failing: Vec<(String, String)>,
    funnel: Funnel,
}

/// How many days the funnel looks back.
const FUNNEL_DAYS: i64 = 7;

/// The conversion funnel as the page shows it.
struct Funnel {
    /// (key, label, count) of each step: created, opened, route chosen, paid.
    steps: Vec<(&'static str, String, i64)>,
    /// The number the steps are measured against (the sessions created).
    created: i64,
    /// One line per route the buyers chose.
    routes: Vec<FunnelRoute>,
    /// Sessions where no route was chosen: (opened, expired or past due).
    unchosen: (i64, i64),
}

/// One route's line of the funnel.
struct FunnelRoute {
    id: String,
    label: String,
    chosen: i64,
    paid: i64,
    failed: i64,
    expired: i64,
    /// Neither paid, failed nor expired yet.
    open: i64,
    /// Paid of chosen, in words (`62%`).
    rate: String,
}

impl Funnel {
    fn of(
        lines: &[FunnelLine],
        routes: &[crate::domain::payment_route::PaymentRoute],
        t: &Catalog,
    ) -> Funnel {
        let sum = |f: fn(&FunnelLine) -> i64| lines.iter().map(f).sum::<i64>();
        let created = sum(|l| l.sessions);
        let chosen: i64 = lines
            .iter()
            .filter(|l| l.route_id.is_some())
            .map(|l| l.sessions)
            .sum();
        let step = |key: &'static str, n: i64| {
            (
                key,
                t.get(&format!("dashboard.funnel_{key}")).into_owned(),
                n,
            )
        };
        let unchosen = lines
            .iter()
            .find(|l| l.route_id.is_none())
            .map_or((0, 0), |l| (l.opened, l.expired));
        Funnel {
            steps: vec![
                step("created", created),
                step("opened", sum(|l| l.opened)),
                step("chosen", chosen),
                step("paid", sum(|l| l.paid)),
            ],
            created,
            routes: lines
                .iter()
                .filter_map(|l| {
                    let id = l.route_id.clone()?;
                    let label = routes
                        .iter()
                        .find(|r| r.id == id)
                        .map_or_else(|| id.clone(), |r| r.label_in(t.code).to_owned());
                    Some(FunnelRoute {
                        label,
                        chosen: l.sessions,
                        paid: l.paid,
                        failed: l.failed,
                        expired: l.expired,
                        open: l.sessions - l.paid - l.failed - l.expired,
                        rate: t
                            .get("dashboard.percent")
                            .replace("{n}", &(l.paid * 100 / l.sessions.max(1)).to_string()),
                        id,
                    })
                })
                .collect(),
            unchosen,
        }
    }
}

/// Midnight UTC of today and the first of this month, in Unix ms.
fn day_and_month_start(now: i64) -> (i64, i64) {
    let t = OffsetDateTime::from_unix_timestamp(now / 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let day = t.replace_time(time::Time::MIDNIGHT);
    let month = day.replace_day(1).unwrap_or(day);
    (day.unix_timestamp() * 1000, month.unix_timestamp() * 1000)
}

/// `GET /dashboard`
pub async fn home(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let page = async {
        let (merchant, env) = (&v.user.merchant_id, v.session.environment);
        let now = now_ms();
        let (day, month) = day_and_month_start(now);
        let today = paid_since(&state.db.read, merchant, env, day).await?;
        let this_month = paid_since(&state.db.read, merchant, env, month).await?;
        anyhow::Ok(HomePage {
            chrome: Chrome::of(&state, &v, "home").await?,
            today_volume: v.t.money(today.cents),
            today_count: today.count,
            month_volume: v.t.money(this_month.cents),
            month_count: this_month.count,
            sessions: sessions_since(&state.db.read, merchant, env, day).await?,
            failing: failing_endpoints(&state.db.read, merchant, env).await?,
            funnel: Funnel::of(
                &funnel_since(
                    &state.db.read,
                    merchant,
                    env,
                    now - FUNNEL_DAYS * 86_400_000,
                    now,
                )
                .await?,
                &state.settings.routes,
                &v.t,
            ),
        })
    };
    match page.await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(&v.t, &e),
    }
}

/// A gallery sample: a shop with a week of checkouts.
pub(super) fn sample(state: &AppState, t: &Arc<Catalog>) -> HttpResponse {
    let line = |route: Option<&str>, sessions, opened, paid, failed, expired| FunnelLine {
        route_id: route.map(str::to_owned),
        sessions,
        opened,
        paid,
        failed,
        expired,
    };
    let lines = [
        line(None, 58, 31, 0, 0, 40),
        line(Some("local-bank-transfer"), 12, 12, 7, 0, 3),
        line(Some("card-bridge-a"), 214, 214, 181, 9, 4),
        line(Some("wallet-usdc-base"), 37, 37, 29, 2, 1),
    ];
    render(
        StatusCode::OK,
        &HomePage {
            chrome: Chrome::sample(state, t, "home"),
            today_volume: t.money(412_380),
            today_count: 31,
            month_volume: t.money(1_386_455),
            month_count: 104,
            sessions: vec![
                ("expired".into(), 4),
                ("paid".into(), 31),
                ("pending".into(), 2),
                ("routed".into(), 6),
            ],
            failing: vec![(
                "we_0000000000000000000000demo".into(),
                "https://shop.example/hooks/openrails".into(),
            )],
            funnel: Funnel::of(&lines, &state.settings.routes, t),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_and_this_month_begin_at_midnight_utc() {
        // 2026-12-04T15:30:00Z
        let (day, month) = day_and_month_start(1_796_398_200_000);
        assert_eq!(day, 1_796_342_400_000);
        assert_eq!(month, 1_796_083_200_000);
    }
}
