//! A merchant's look on the checkout pages: name, logo, colour, button shape, a short note and
//! a default language. Text on the brand colour is black or white, whichever contrasts more;
//! one of the two always reaches the 4.5:1 that WCAG AA asks of normal text.

use base64::Engine;
use serde::Serialize;

use super::input::{FieldIssue, Fields, RawObject};
use super::language::best_match;

/// `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color {
    /// Red, 0–255.
    pub r: u8,
    /// Green, 0–255.
    pub g: u8,
    /// Blue, 0–255.
    pub b: u8,
}

impl Color {
    /// `#rgb` or `#rrggbb`, any case.
    pub fn parse(s: &str) -> Result<Color, &'static str> {
        let hex = s
            .trim()
            .strip_prefix('#')
            .ok_or("must be a colour such as #0b57d0")?;
        let expanded: String = match hex.len() {
            3 => hex.chars().flat_map(|c| [c, c]).collect(),
            6 => hex.to_owned(),
            _ => return Err("must be a colour such as #0b57d0"),
        };
        let channel = |i: usize| {
            u8::from_str_radix(&expanded[i..i + 2], 16)
                .map_err(|_| "must be a colour such as #0b57d0")
        };
        Ok(Color {
            r: channel(0)?,
            g: channel(2)?,
            b: channel(4)?,
        })
    }

    /// The colour as `#rrggbb`, in lowercase: how it is stored and shown.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }

    /// WCAG relative luminance.
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.r) + 0.7152 * lin(self.g) + 0.0722 * lin(self.b)
    }

    /// WCAG contrast ratio, 1 to 21.
    pub fn contrast(self, other: Color) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// This colour as text, borders and marks on `surface`: itself when it reaches 4.5:1
    /// there, else mixed towards black (on a light surface) or white (on a dark one) until it
    /// does, so a pale brand colour still reads on white and a deep one on a dark page.
    pub fn ink_on(self, surface: Color) -> Color {
        let toward = if surface.luminance() > 0.18 {
            0u8
        } else {
            255u8
        };
        let mix =
            |c: u8, t: f64| (f64::from(c) + (f64::from(toward) - f64::from(c)) * t).round() as u8;
        (0..=20)
            .map(|step| {
                let t = f64::from(step) / 20.0;
                Color {
                    r: mix(self.r, t),
                    g: mix(self.g, t),
                    b: mix(self.b, t),
                }
            })
            .find(|c| c.contrast(surface) >= 4.5)
            .unwrap_or(Color {
                r: toward,
                g: toward,
                b: toward,
            })
    }

    /// Black or white: whichever reads better on this colour.
    pub fn text_color(self) -> Color {
        let white = Color {
            r: 255,
            g: 255,
            b: 255,
        };
        let black = Color { r: 0, g: 0, b: 0 };
        if self.contrast(white) >= self.contrast(black) {
            white
        } else {
            black
        }
    }
}

/// The corners of buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonShape {
    /// Slightly rounded corners, as the pages have by default.
    Rounded,
    /// Fully rounded ends.
    Pill,
    /// Sharp corners.
    Square,
}

impl ButtonShape {
    /// The shape named `s` (`rounded`, `pill` or `square`); the error says which are allowed.
    pub fn parse(s: &str) -> Result<ButtonShape, &'static str> {
        match s {
            "rounded" => Ok(ButtonShape::Rounded),
            "pill" => Ok(ButtonShape::Pill),
            "square" => Ok(ButtonShape::Square),
            _ => Err("must be rounded, pill or square"),
        }
    }

    /// The word that names it, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ButtonShape::Rounded => "rounded",
            ButtonShape::Pill => "pill",
            ButtonShape::Square => "square",
        }
    }

    /// The CSS `border-radius` the pages give buttons of this shape.
    pub fn radius(self) -> &'static str {
        match self {
            ButtonShape::Rounded => "10px",
            ButtonShape::Pill => "999px",
            ButtonShape::Square => "0",
        }
    }
}

/// The longest note a merchant may show on its pages, in characters.
pub const MAX_NOTE_CHARS: usize = 200;
/// The longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 80;
/// The largest logo, in bytes of the decoded image.
pub const MAX_LOGO_BYTES: usize = 64 * 1024;

/// A display name or note: trimmed, bounded, no control characters.
pub fn plain_text(s: &str, max: usize) -> Result<String, String> {
    let s = s.trim();
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(s.to_owned())
}

/// A logo given as a `data:` URL: PNG, JPEG, WebP or SVG, at most 64 KiB; an SVG must be a
/// plain drawing ([`check_logo`]). Returns the content type and the base64 of the bytes.
pub fn parse_logo_data_url(s: &str) -> Result<(String, String), String> {
    let rest = s
        .strip_prefix("data:")
        .ok_or("must be a data: URL, e.g. data:image/png;base64,…")?;
    let (kind, data) = rest
        .split_once(";base64,")
        .ok_or("must be base64-encoded (data:image/png;base64,…)")?;
    if !["image/png", "image/jpeg", "image/webp", "image/svg+xml"].contains(&kind) {
        return Err("must be a PNG, JPEG, WebP or SVG image".into());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| "is not valid base64".to_owned())?;
    if bytes.is_empty() || bytes.len() > MAX_LOGO_BYTES {
        return Err(format!(
            "must be between 1 byte and {} KiB",
            MAX_LOGO_BYTES / 1024
        ));
    }
    match sniff_image(&bytes) {
        Some(found) if found == kind => {}
        Some(found) => return Err(format!("is declared {kind} but its bytes are {found}")),
        None => return Err(format!("is declared {kind} but its bytes are not an image")),
    }
    check_logo(kind, &bytes)?;
    Ok((
        kind.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

/// The image type `bytes` are, by their signature: PNG, JPEG, WebP, or SVG (text holding an
/// `<svg` element near its start); `None` for anything else.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]);
        head.contains("<svg").then_some("image/svg+xml")
    }
}

/// Refuses an SVG logo that could run script or fetch anything (see [`super::svg`]); the
/// message says what was found.
pub fn check_logo(kind: &str, bytes: &[u8]) -> Result<(), String> {
    if kind != "image/svg+xml" {
        return Ok(());
    }
    super::svg::check_svg(bytes).map_err(|found| {
        format!("must be a plain SVG drawing (no scripts, event handlers or external references); found {found}")
    })
}

/// The content type of a logo file, by its extension.
pub fn logo_type_for_path(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    [
        (".png", "image/png"),
        (".jpg", "image/jpeg"),
        (".jpeg", "image/jpeg"),
        (".webp", "image/webp"),
        (".svg", "image/svg+xml"),
    ]
    .into_iter()
    .find(|(ext, _)| lower.ends_with(ext))
    .map(|(_, kind)| kind)
}

/// A merchant's branding as stored; every part optional (the config file's `[branding]`
/// fills what a merchant has not set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerchantBranding {
    /// The name shown on the pages instead of the merchant's own.
    pub display_name: Option<String>,
    /// `#rrggbb`, as [`Color::hex`] wrote it.
    pub brand_color: Option<String>,
    /// `rounded`, `pill` or `square`.
    pub button_shape: Option<String>,
    /// The logo's content type (`image/png`, …); `None` when there is no logo.
    pub logo_type: Option<String>,
    /// A short note the pages show beneath what is being paid.
    pub note: Option<String>,
    /// The pages' language when neither `?lang=` nor the buyer's browser asks for one they have.
    pub default_language: Option<String>,
    /// When any part last changed (Unix milliseconds); versions the stylesheet and logo URLs so
    /// browsers fetch them again. `None` until the branding is first changed.
    pub branding_updated_at: Option<i64>,
}

/// The branding as the API and the command line show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Branding {
    /// Always `branding`.
    pub object: &'static str,
    /// The name shown on the pages, when the merchant set one.
    pub display_name: Option<String>,
    /// `#rrggbb`
    pub brand_color: Option<String>,
    /// The text colour chosen for the brand colour (contrast ≥ 4.5:1).
    pub brand_text_color: Option<String>,
    /// `rounded`, `pill` or `square`
    pub button_shape: Option<String>,
    /// Where the pages load the logo from, when there is one.
    pub logo_url: Option<String>,
    /// The short note shown on the pages, when the merchant set one.
    pub note: Option<String>,
    /// `en`, `es` or `pt-BR`
    pub default_language: Option<String>,
}

impl Branding {
    /// The object for `row`, the branding of merchant `merchant_id`.
    pub fn from_row(row: MerchantBranding, merchant_id: &str) -> Branding {
        let color = row
            .brand_color
            .as_deref()
            .and_then(|c| Color::parse(c).ok());
        Branding {
            object: "branding",
            display_name: row.display_name,
            brand_color: color.map(Color::hex),
            brand_text_color: color.map(|c| c.text_color().hex()),
            button_shape: row.button_shape,
            logo_url: row.logo_type.map(|_| format!("/brand/{merchant_id}/logo")),
            note: row.note,
            default_language: row.default_language,
        }
    }
}

/// Changes to branding: `None` leaves a part alone, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct BrandingUpdate {
    /// A new display name.
    pub display_name: Option<Option<String>>,
    /// A new brand colour, as `#rrggbb`.
    pub brand_color: Option<Option<String>>,
    /// A new button shape (`rounded`, `pill` or `square`).
    pub button_shape: Option<Option<String>>,
    /// (content type, base64)
    pub logo: Option<Option<(String, String)>>,
    /// A new note.
    pub note: Option<Option<String>>,
    /// A new default language, one of the pages' language codes.
    pub default_language: Option<Option<String>>,
}

/// The fields a branding change may name.
pub const FIELDS: &[&str] = &[
    "displayName",
    "brandColor",
    "buttonShape",
    "logo",
    "note",
    "defaultLanguage",
];

/// Parses the fields of a branding change (the API's body, or the command line's options put
/// as one), collecting every problem; `languages` are the pages' language codes.
pub fn parse_update(
    body: &RawObject,
    languages: &[&'static str],
) -> (BrandingUpdate, Vec<FieldIssue>) {
    let mut f = Fields::new(body, FIELDS);
    // A part of the change: left out leaves it alone, null (or an empty text) clears it.
    let change =
        |f: &mut Fields<'_>, name: &str, parse: &dyn Fn(&str) -> Result<String, String>| {
            match f.nullable::<String>(name)? {
                None => Some(None),
                text => f
                    .check(name, text, |s| parse(&s))
                    .map(|v| Some(v).filter(|v| !v.is_empty())),
            }
        };
    let update = BrandingUpdate {
        display_name: change(&mut f, "displayName", &|s| plain_text(s, MAX_NAME_CHARS)),
        brand_color: change(&mut f, "brandColor", &|s| {
            Color::parse(s).map(Color::hex).map_err(str::to_owned)
        }),
        button_shape: change(&mut f, "buttonShape", &|s| {
            ButtonShape::parse(s)
                .map(|b| b.as_str().to_owned())
                .map_err(str::to_owned)
        }),
        note: change(&mut f, "note", &|s| plain_text(s, MAX_NOTE_CHARS)),
        default_language: change(&mut f, "defaultLanguage", &|s| {
            best_match(languages, s)
                .map(str::to_owned)
                .ok_or_else(|| format!("must be one of {}", languages.join(", ")))
        }),
        logo: match f.nullable::<String>("logo") {
            None => None,
            Some(None) => Some(None),
            Some(url) => f
                .check("logo", url, |url| parse_logo_data_url(&url))
                .map(Some),
        },
    };
    (update, f.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_on_any_brand_colour_keeps_aa_contrast() {
        // Every 17th step of each channel: 4,096 colours, mid-greys included.
        for r in (0..=255).step_by(17) {
            for g in (0..=255).step_by(17) {
                for b in (0..=255).step_by(17) {
                    let c = Color { r, g, b };
                    assert!(
                        c.contrast(c.text_color()) >= 4.5,
                        "{} on {}",
                        c.text_color().hex(),
                        c.hex()
                    );
                }
            }
        }
    }

    #[test]
    fn ink_reaches_text_contrast_on_light_and_dark_surfaces() {
        let white = Color::parse("#ffffff").unwrap();
        let dark = Color::parse("#1a1f26").unwrap();
        for brand in [
            "#ffd400", "#0b57d0", "#7c3aed", "#00a86b", "#111111", "#f8f8f8",
        ] {
            let brand = Color::parse(brand).unwrap();
            for surface in [white, dark] {
                let ink = brand.ink_on(surface);
                assert!(
                    ink.contrast(surface) >= 4.5,
                    "{brand:?} on {surface:?}: {ink:?}"
                );
            }
        }
        // A colour that already reads is kept as it is.
        let blue = Color::parse("#0b57d0").unwrap();
        assert_eq!(blue.ink_on(white), blue);
    }

    #[test]
    fn contrast_matches_known_values() {
        let white = Color::parse("#fff").expect("colour");
        let black = Color::parse("#000000").expect("colour");
        assert!((white.contrast(black) - 21.0).abs() < 0.01);
        let grey = Color::parse("#767676").expect("colour");
        assert!((grey.contrast(white) - 4.54).abs() < 0.01);
        assert_eq!(Color::parse("#FFD700").expect("colour").text_color(), black);
        assert_eq!(Color::parse("#0b57d0").expect("colour").text_color(), white);
        assert!(Color::parse("blue").is_err());
        assert!(Color::parse("#12345").is_err());
    }

    #[test]
    fn logos_must_be_small_images() {
        assert!(parse_logo_data_url("data:image/png;base64,iVBORw0KGgo=").is_ok());
        // Declared one type, made of another, or of no image at all.
        assert!(parse_logo_data_url("data:image/jpeg;base64,iVBORw0KGgo=").is_err());
        assert!(parse_logo_data_url("data:image/png;base64,aGVsbG8gd29ybGQ=").is_err());
        assert!(parse_logo_data_url("data:text/html;base64,PHNjcmlwdD4=").is_err());
        assert!(parse_logo_data_url("https://cdn.example/logo.png").is_err());
        let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_LOGO_BYTES + 1]);
        assert!(parse_logo_data_url(&format!("data:image/png;base64,{big}")).is_err());
        assert!(plain_text("a\u{7}b", 10).is_err());
        assert_eq!(plain_text("  Hi  ", 10), Ok("Hi".into()));
    }
}
