//! `GET /dashboard`: today's and this month's paid volume, the sessions of today by status,
//! and the endpoints that fail.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use time::OffsetDateTime;

use super::{Chrome, error_page, render, viewer};
use crate::db::dashboard::{failing_endpoints, paid_since, sessions_since};
use crate::domain::time::now_ms;
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
        let (day, month) = day_and_month_start(now_ms());
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
        })
    };
    match page.await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(&v.t, &e),
    }
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
