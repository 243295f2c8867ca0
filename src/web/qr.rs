//! QR codes as inline SVG, drawn here from the `qrcode` crate's module matrix: one `<path>`
//! of unit squares in a `viewBox`, so the page needs no image request, no script and no
//! outside service, and the markup carries nothing but numbers.
use std::fmt::Write;

use qrcode::{Color, EcLevel, QrCode};

/// Modules of light margin around the symbol (ISO/IEC 18004 asks for four).
const QUIET_ZONE: usize = 4;

/// The SVG for `data`, or `None` when it does not fit in a QR code.
pub fn svg(data: &str, title: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET_ZONE;
    let mut path = String::new();
    for (i, c) in colors.iter().enumerate() {
        if *c == Color::Dark {
            let (x, y) = (i % width + QUIET_ZONE, i / width + QUIET_ZONE);
            let _ = write!(path, "M{x} {y}h1v1h-1z");
        }
    }
    let title = askama_escape(title);
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="qr" viewBox="0 0 {size} {size}" role="img" aria-label="{title}" shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/><path fill="#000" d="{path}"/></svg>"##
    ))
}

/// The title is page text from the catalogue; escaped all the same, since the SVG is
/// inserted into the page unescaped.
fn askama_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_the_symbol_with_its_quiet_zone() {
        let uri =
            "otpauth://totp/Latchkey:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Latchkey";
        let svg = svg(uri, "QR \"code\"").unwrap();
        let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M).unwrap();
        let size = code.width() + 8;
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains(&format!(r#"viewBox="0 0 {size} {size}""#)));
        let dark = code
            .to_colors()
            .iter()
            .filter(|c| **c == Color::Dark)
            .count();
        assert_eq!(svg.matches("h1v1h-1z").count(), dark);
        // The top-left finder pattern starts at the quiet zone's edge.
        assert!(svg.contains("M4 4h1v1h-1z"));
        assert!(svg.contains("aria-label=\"QR &quot;code&quot;\""));
        assert!(!svg.contains("otpauth"));
    }

    #[test]
    fn refuses_data_too_long_for_a_symbol() {
        assert!(svg(&"x".repeat(5000), "t").is_none());
    }
}
