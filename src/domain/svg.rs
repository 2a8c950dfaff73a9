//! Whether an uploaded SVG logo is a plain drawing: no script, no event handler, no
//! `foreignObject`, nothing fetched from elsewhere.
//!
//! Refusing is simpler and safer than sanitising, so this is a deliberately small and strict
//! scanner rather than a parser that tries to understand everything: it accepts UTF-8 SVG made
//! of an allow-list of drawing elements and attributes, and refuses anything it cannot show to
//! be inert. In particular: every `<!…>` other than comments and CDATA (so DOCTYPE and entity
//! declarations), processing instructions other than the XML declaration, entity references
//! other than the five predefined ones (numeric references too in attribute values and styles,
//! where they could spell `javascript:`), `href` other than a local `#fragment`, `url(…)` other
//! than `url(#…)`, CSS escapes and `@import`. Editors' extra attributes (`inkscape:*`, `data-*`)
//! are refused too: export as "plain SVG".

/// Drawing elements a logo may use.
const ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "defs",
    "title",
    "desc",
    "symbol",
    "use",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "textPath",
    "linearGradient",
    "radialGradient",
    "stop",
    "pattern",
    "clipPath",
    "mask",
    "marker",
    "style",
    "filter",
    "feBlend",
    "feColorMatrix",
    "feComponentTransfer",
    "feComposite",
    "feDropShadow",
    "feFlood",
    "feFuncA",
    "feFuncR",
    "feFuncG",
    "feFuncB",
    "feGaussianBlur",
    "feMerge",
    "feMergeNode",
    "feMorphology",
    "feOffset",
];

/// Attributes a logo may use; every value is checked for references as well.
const ATTRIBUTES: &[&str] = &[
    "id",
    "class",
    "style",
    "transform",
    "d",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "fx",
    "fy",
    "fr",
    "width",
    "height",
    "viewBox",
    "preserveAspectRatio",
    "points",
    "pathLength",
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "stroke-dashoffset",
    "stroke-opacity",
    "opacity",
    "offset",
    "stop-color",
    "stop-opacity",
    "gradientUnits",
    "gradientTransform",
    "spreadMethod",
    "clip-path",
    "clip-rule",
    "clipPathUnits",
    "mask",
    "maskUnits",
    "maskContentUnits",
    "patternUnits",
    "patternContentUnits",
    "patternTransform",
    "filter",
    "filterUnits",
    "primitiveUnits",
    "color",
    "color-interpolation",
    "color-interpolation-filters",
    "display",
    "visibility",
    "overflow",
    "vector-effect",
    "shape-rendering",
    "text-rendering",
    "image-rendering",
    "paint-order",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "font-variant",
    "text-anchor",
    "dominant-baseline",
    "alignment-baseline",
    "baseline-shift",
    "letter-spacing",
    "word-spacing",
    "text-decoration",
    "writing-mode",
    "dx",
    "dy",
    "rotate",
    "textLength",
    "lengthAdjust",
    "startOffset",
    "version",
    "baseProfile",
    "xmlns",
    "xmlns:xlink",
    "xml:space",
    "xml:lang",
    "lang",
    "href",
    "xlink:href",
    "in",
    "in2",
    "result",
    "stdDeviation",
    "mode",
    "type",
    "values",
    "operator",
    "k1",
    "k2",
    "k3",
    "k4",
    "flood-color",
    "flood-opacity",
    "radius",
    "tableValues",
    "slope",
    "intercept",
    "amplitude",
    "exponent",
    "markerWidth",
    "markerHeight",
    "markerUnits",
    "refX",
    "refY",
    "orient",
    "marker-start",
    "marker-mid",
    "marker-end",
    "media",
];

/// `Ok` when `bytes` is an SVG logo that can do nothing but draw; otherwise what was found,
/// e.g. `a <script> element`.
pub fn check_svg(bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "text that is not UTF-8".to_owned())?;
    Scanner {
        rest: text.strip_prefix('\u{feff}').unwrap_or(text),
        open: Vec::new(),
        seen_root: false,
        seen_anything: false,
    }
    .run()
}

struct Scanner<'a> {
    rest: &'a str,
    /// Names of the elements open around the current position.
    open: Vec<&'a str>,
    seen_root: bool,
    /// Whether anything but the XML declaration came before.
    seen_anything: bool,
}

impl<'a> Scanner<'a> {
    fn run(mut self) -> Result<(), String> {
        while !self.rest.is_empty() {
            if self.rest.starts_with("<?") {
                self.declaration()?;
            } else if let Some(after) = self.rest.strip_prefix("<!--") {
                let end = after.find("-->").ok_or("an unterminated comment")?;
                self.rest = &after[end + 3..];
            } else if let Some(after) = self.rest.strip_prefix("<![CDATA[") {
                let end = after.find("]]>").ok_or("an unterminated CDATA section")?;
                self.text(&after[..end], true)?;
                self.rest = &after[end + 3..];
            } else if self.rest.starts_with("<!") {
                return Err("a DOCTYPE or entity declaration (<!…)".into());
            } else if let Some(after) = self.rest.strip_prefix("</") {
                self.rest = after;
                self.end_tag()?;
            } else if let Some(after) = self.rest.strip_prefix('<') {
                self.rest = after;
                self.start_tag()?;
            } else {
                let end = self.rest.find('<').unwrap_or(self.rest.len());
                let (text, rest) = self.rest.split_at(end);
                self.text(text, false)?;
                self.rest = rest;
            }
            self.seen_anything = true;
        }
        if !self.open.is_empty() {
            return Err("an element that is never closed".into());
        }
        if !self.seen_root {
            return Err("no <svg> element".into());
        }
        Ok(())
    }

    /// `<?xml …?>` first in the file; any other processing instruction is refused.
    fn declaration(&mut self) -> Result<(), String> {
        let end = self
            .rest
            .find("?>")
            .ok_or("an unterminated processing instruction")?;
        let inside = &self.rest[2..end];
        let is_xml = inside == "xml" || inside.starts_with("xml ");
        if !is_xml || self.seen_anything {
            return Err("a processing instruction (<?…?>)".into());
        }
        if inside.contains(['&', '<']) {
            return Err("an unusual XML declaration".into());
        }
        self.rest = &self.rest[end + 2..];
        Ok(())
    }

    fn name(&mut self) -> &'a str {
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.')))
            .unwrap_or(self.rest.len());
        let (name, rest) = self.rest.split_at(end);
        self.rest = rest;
        name
    }

    fn skip_space(&mut self) -> bool {
        let trimmed = self.rest.trim_start_matches([' ', '\t', '\r', '\n']);
        let skipped = trimmed.len() != self.rest.len();
        self.rest = trimmed;
        skipped
    }

    fn start_tag(&mut self) -> Result<(), String> {
        let name = self.name();
        if name.is_empty() {
            return Err("a malformed tag".into());
        }
        if !ELEMENTS.contains(&name) {
            return Err(match name.to_ascii_lowercase().as_str() {
                "script" => "a <script> element".into(),
                "foreignobject" => "a <foreignObject> element".into(),
                _ => format!("a <{name}> element, which logos may not use"),
            });
        }
        match (self.open.is_empty(), self.seen_root) {
            (true, true) => return Err("more than one root element".into()),
            (true, false) if name != "svg" => return Err("a root element other than <svg>".into()),
            _ => {}
        }
        self.seen_root = true;
        loop {
            let spaced = self.skip_space();
            if let Some(after) = self.rest.strip_prefix("/>") {
                self.rest = after;
                return Ok(());
            }
            if let Some(after) = self.rest.strip_prefix('>') {
                self.rest = after;
                self.open.push(name);
                return Ok(());
            }
            if !spaced {
                return Err(format!("a malformed <{name}> tag"));
            }
            self.attribute(name)?;
        }
    }

    fn attribute(&mut self, element: &str) -> Result<(), String> {
        let name = self.name();
        if name.is_empty() {
            return Err(format!("a malformed <{element}> tag"));
        }
        self.skip_space();
        self.rest = self
            .rest
            .strip_prefix('=')
            .ok_or_else(|| format!("the attribute {name} without a value"))?;
        self.skip_space();
        let quote = self
            .rest
            .chars()
            .next()
            .filter(|c| matches!(c, '"' | '\''))
            .ok_or_else(|| format!("the attribute {name} with an unquoted value"))?;
        let after = &self.rest[1..];
        let end = after
            .find(quote)
            .ok_or_else(|| format!("the attribute {name} with an unterminated value"))?;
        let value = &after[..end];
        self.rest = &after[end + 1..];
        if name.len() > 2 && name[..2].eq_ignore_ascii_case("on") {
            return Err(format!("an event handler attribute ({name})"));
        }
        let namespace_declaration = name.starts_with("xmlns:") && name != "xmlns:xlink";
        if !ATTRIBUTES.contains(&name) && !namespace_declaration {
            return Err(format!("the attribute {name}, which logos may not use"));
        }
        if value.contains('<') {
            return Err(format!("a '<' in the attribute {name}"));
        }
        check_references(value, true).map_err(|what| format!("{what} in the attribute {name}"))?;
        match name {
            "href" | "xlink:href" if !is_fragment(value) => Err(format!(
                "an external reference ({name}=\"{}\"); only local #fragment references are allowed",
                shorten(value)
            )),
            "xmlns" if value != "http://www.w3.org/2000/svg" => {
                Err("an xmlns other than the SVG namespace".into())
            }
            "xmlns:xlink" if value != "http://www.w3.org/1999/xlink" => {
                Err("an xmlns:xlink other than the XLink namespace".into())
            }
            "style" => check_css(value).map_err(|what| format!("{what} in a style attribute")),
            _ => check_css(value).map_err(|what| format!("{what} in the attribute {name}")),
        }
    }

    fn end_tag(&mut self) -> Result<(), String> {
        let name = self.name();
        self.skip_space();
        self.rest = self
            .rest
            .strip_prefix('>')
            .ok_or_else(|| format!("a malformed </{name}> tag"))?;
        match self.open.pop() {
            Some(open) if open == name => Ok(()),
            _ => Err(format!("a </{name}> that closes nothing")),
        }
    }

    /// Text between tags, or a CDATA section's content.
    fn text(&mut self, text: &str, cdata: bool) -> Result<(), String> {
        if self.open.is_empty() {
            return if text.trim().is_empty() {
                Ok(())
            } else {
                Err("text outside the <svg> element".into())
            };
        }
        let in_style = self.open.last() == Some(&"style");
        if !cdata {
            // In a style, a numeric reference could spell what the CSS check looks for.
            check_references(text, in_style)?;
        }
        if in_style {
            check_css(text).map_err(|what| format!("{what} in a <style> element"))?;
        }
        Ok(())
    }
}

/// Refuses entity references other than the five predefined ones (and, when
/// `no_numeric`, numeric character references too).
fn check_references(text: &str, no_numeric: bool) -> Result<(), String> {
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        rest = &rest[at + 1..];
        let end = rest.find(';').ok_or("a stray '&'")?;
        let name = &rest[..end];
        let numeric = name
            .strip_prefix("#x")
            .map(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
            .or_else(|| {
                name.strip_prefix('#')
                    .map(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
            });
        match numeric {
            Some(true) if !no_numeric => {}
            Some(_) => return Err(format!("a character reference (&{name};)")),
            None if ["amp", "lt", "gt", "quot", "apos"].contains(&name) => {}
            None => return Err(format!("an entity reference (&{};)", shorten(name))),
        }
        rest = &rest[end + 1..];
    }
    Ok(())
}

/// Refuses CSS (or an attribute value) that could fetch, import or run something.
fn check_css(css: &str) -> Result<(), String> {
    let lower = css.to_ascii_lowercase();
    if lower.contains('\\') {
        return Err("a CSS escape".into());
    }
    for word in [
        "javascript:",
        "vbscript:",
        "data:",
        "@import",
        "expression(",
        "-moz-binding",
        "behavior",
        "image(",
        "image-set(",
        "cross-fade(",
        "element(",
        "src(",
    ] {
        if lower.contains(word) {
            return Err(format!("\"{word}\""));
        }
    }
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("url(") {
        rest = &rest[at + 4..];
        let target = rest.trim_start_matches([' ', '\t', '\r', '\n', '"', '\'']);
        if !target.starts_with('#') {
            return Err("a url() that is not a local #fragment".into());
        }
    }
    Ok(())
}

/// `#id`, nothing else.
fn is_fragment(value: &str) -> bool {
    value.strip_prefix('#').is_some_and(|id| {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
    })
}

fn shorten(s: &str) -> String {
    let short: String = s.chars().take(40).collect();
    if short.len() < s.len() {
        format!("{short}…")
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A logo as a design tool exports it: declaration, comment, gradients, a clip path, a
    /// `<use>` of a local symbol, styles with `url(#…)`, text with a predefined entity.
    const BENIGN: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<!-- Nimbus Studio logo -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 120 40" width="120" height="40">
  <title>Nimbus &amp; Co</title>
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="1" y2="1" gradientUnits="objectBoundingBox">
      <stop offset="0" stop-color="#0b57d0"/><stop offset="1" stop-color="#7cacf8" stop-opacity=".8"/>
    </linearGradient>
    <radialGradient id="glow" cx="50%" cy="50%" r="50%"><stop offset="0" style="stop-color:#fff"/></radialGradient>
    <clipPath id="round"><rect width="40" height="40" rx="8"/></clipPath>
    <symbol id="cloud" viewBox="0 0 10 10"><path d="M2 7a3 3 0 0 1 1-5 4 4 0 0 1 6 2 2 2 0 0 1-1 3z"/></symbol>
    <style type="text/css"><![CDATA[ .word { font: 600 14px sans-serif; fill: url(#sky) } ]]></style>
  </defs>
  <g clip-path="url(#round)"><rect width="40" height="40" fill="url('#glow')"/></g>
  <use href="#cloud" x="4" y="4" width="32" height="32"/>
  <use xlink:href="#cloud" x="8" y="8" width="8" height="8" opacity="0.5"/>
  <text x="48" y="26" class="word" style="fill: url(#sky); letter-spacing: .5px">Nimbus</text>
</svg>
"##;

    #[test]
    fn a_plain_drawing_with_gradients_and_local_references_is_accepted() {
        assert_eq!(check_svg(BENIGN.as_bytes()), Ok(()));
        assert_eq!(
            check_svg(b"\xef\xbb\xbf<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            Ok(())
        );
    }

    #[test]
    fn anything_that_could_run_or_fetch_is_refused_and_named() {
        let svg = |inside: &str| {
            format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\">{inside}</svg>"
            )
        };
        let cases: Vec<(String, &str)> = vec![
            (svg("<script>alert(1)</script>"), "<script>"),
            (svg("<SCRIPT>alert(1)</SCRIPT>"), "<script>"),
            ("<svg onload=\"alert(1)\"/>".into(), "onload"),
            (svg("<rect onClick='x()' width='1'/>"), "onClick"),
            (svg("<foreignObject><p>hi</p></foreignObject>"), "foreignObject"),
            (svg("<image href=\"https://evil.example/x.png\"/>"), "<image>"),
            (svg("<a href=\"javascript:alert(1)\"><rect/></a>"), "<a>"),
            (svg("<use href=\"https://evil.example/s.svg#x\"/>"), "external reference"),
            (svg("<use xlink:href=\"other.svg#x\"/>"), "external reference"),
            (svg("<use href=\"data:image/svg+xml,PHN2Zz4=\"/>"), "data:"),
            (svg("<rect style=\"fill: url(http://evil.example/p)\"/>"), "url()"),
            (svg("<rect fill=\"url( 'https://evil.example/#g')\"/>"), "url()"),
            (svg("<style>rect { fill: url(https://evil.example/) }</style>"), "url()"),
            (svg("<style><![CDATA[@import 'https://evil.example/x.css';]]></style>"), "@import"),
            (svg("<style>rect { fill: u\\72l(https://e.example/) }</style>"), "CSS escape"),
            (svg("<style>rect { fill: &#117;rl(https://e.example/) }</style>"), "character reference"),
            (svg("<rect fill=\"&#117;rl(https://e.example/)\"/>"), "character reference"),
            (svg("<use href=\"&#106;avascript:alert(1)\"/>"), "character reference"),
            (svg("<text>&xxe;</text>"), "entity reference"),
            (
                "<?xml version=\"1.0\"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><svg>&xxe;</svg>".into(),
                "DOCTYPE",
            ),
            (
                "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\"><svg/>".into(),
                "DOCTYPE",
            ),
            (
                "<?xml-stylesheet href=\"https://evil.example/x.css\"?><svg/>".into(),
                "processing instruction",
            ),
            (svg("<?php echo 1 ?>"), "processing instruction"),
            (svg("<set attributeName=\"href\" to=\"javascript:alert(1)\"/>"), "<set>"),
            (svg("<animate attributeName=\"href\" values=\"javascript:alert(1)\"/>"), "<animate>"),
            (svg("<iframe src=\"https://evil.example\"/>"), "<iframe>"),
            (svg("<rect inkscape:label=\"x\"/>"), "inkscape:label"),
            ("<svg xmlns=\"http://www.w3.org/1999/xhtml\"/>".into(), "xmlns"),
            ("<html><svg/></html>".into(), "<html>"),
            ("<svg/><svg/>".into(), "more than one root"),
            ("<svg><g></svg>".into(), "closes nothing"),
            ("<svg>".into(), "never closed"),
            ("hello <svg/>".into(), "outside"),
            ("<svg width=10/>".into(), "unquoted"),
            ("<svg\nonload\n=\n'x'/>".into(), "onload"),
        ];
        for (input, what) in cases {
            let found = check_svg(input.as_bytes()).expect_err(&input);
            assert!(found.contains(what), "{input}: {found} (expected {what:?})");
        }
        assert!(check_svg(b"<svg>\xff</svg>").is_err());
        assert!(check_svg(b"").is_err());
    }
}
