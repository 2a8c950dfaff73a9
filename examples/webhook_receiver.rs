//! A merchant-side webhook receiver, for trying the product and for the benchmark.
//!
//! ```sh
//! cargo run --example webhook_receiver -- 127.0.0.1:9000 whsec_… [log file]
//! ```
//!
//! It verifies every delivery with `openrails_checkout::webhooks::verify` (refusing bad or
//! stale signatures with 400), answers 200 to good ones, and, when given a log file, appends
//! one line per accepted delivery: `<arrival unix ms> <event id>`. `GET /stats` answers the
//! number of deliveries accepted and refused.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use openrails_checkout::domain::time::now_ms;
use openrails_checkout::webhooks::verify;

struct Receiver {
    secret: String,
    log: Option<Mutex<std::io::BufWriter<std::fs::File>>>,
    accepted: AtomicU64,
    refused: AtomicU64,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Receiver>>,
) -> HttpResponse {
    let signature = req
        .headers()
        .get("x-gateway-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if verify(&state.secret, signature, &body, now_ms() / 1000).is_err() {
        state.refused.fetch_add(1, Ordering::Relaxed);
        return HttpResponse::BadRequest().body("bad signature");
    }
    let event = req
        .headers()
        .get("x-gateway-event")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(log) = &state.log
        && let Ok(mut log) = log.lock()
    {
        let _ = writeln!(log, "{} {event}", now_ms());
        let _ = log.flush();
    }
    state.accepted.fetch_add(1, Ordering::Relaxed);
    HttpResponse::Ok().body("ok")
}

async fn stats(state: web::Data<Arc<Receiver>>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "accepted": state.accepted.load(Ordering::Relaxed),
        "refused": state.refused.load(Ordering::Relaxed),
    }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(bind), Some(secret)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: webhook_receiver <address:port> <whsec_…> [log file]");
        std::process::exit(2);
    };
    let log = match args.get(3) {
        Some(path) => Some(Mutex::new(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ))),
        None => None,
    };
    let state = Arc::new(Receiver {
        secret: secret.clone(),
        log,
        accepted: AtomicU64::new(0),
        refused: AtomicU64::new(0),
    });
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .route("/stats", web::get().to(stats))
            .default_service(web::post().to(receive))
    })
    .bind(bind)?
    .run()
    .await
}
