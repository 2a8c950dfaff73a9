//! `HEAD` wherever `GET` works (health checkers and caches use it): the request is routed as a
//! `GET`, so it gets the same status and headers, and the HTTP/1 encoder, which remembers that
//! the request on the wire was a `HEAD`, sends no body (RFC 9110, 9.3.2).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// Middleware: routes `HEAD` as `GET`.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}
