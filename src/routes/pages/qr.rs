//! The wallet page's QR code, drawn on the server as SVG (no script, nothing fetched).

/// The payment request `uri` as a QR code, an `<svg>` element to inline in the page; empty
/// when the request does not fit a QR code.
pub fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            // Inline in HTML: drop the XML declaration.
            svg.find("<svg")
                .map(|i| svg[i..].to_owned())
                .unwrap_or_default()
        }
        Err(e) => {
            tracing::warn!(error.cause = %e, "the payment request does not fit a QR code");
            String::new()
        }
    }
}
