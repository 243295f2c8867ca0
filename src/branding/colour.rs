//! Colours as operators write them (`#rgb`, `#rrggbb`) and the WCAG 2.x contrast ratio
//! between two of them.
use anyhow::bail;

/// An sRGB colour, 8 bits per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// WCAG 2.x success criterion 1.4.3 (AA): normal-size text needs at least 4.5:1.
pub const AA_TEXT: f64 = 4.5;

impl Rgb {
    pub const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
    pub const BLACK: Rgb = Rgb(0, 0, 0);

    /// `#rgb` or `#rrggbb` (case-insensitive). Nothing else: the value is written into a
    /// stylesheet, so it must not be able to carry anything but a colour.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let Some(hex) = s.trim().strip_prefix('#') else {
            bail!("{s:?} must start with #");
        };
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("{s:?} is not hexadecimal");
        }
        let channel = |i: usize, len: usize| {
            let v = u8::from_str_radix(&hex[i * len..(i + 1) * len], 16).unwrap_or(0);
            if len == 1 { v * 17 } else { v }
        };
        match hex.len() {
            3 => Ok(Rgb(channel(0, 1), channel(1, 1), channel(2, 1))),
            6 => Ok(Rgb(channel(0, 2), channel(1, 2), channel(2, 2))),
            _ => bail!("{s:?} must be #rgb or #rrggbb"),
        }
    }

    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Relative luminance, WCAG 2.x definition (sRGB linearised).
    pub fn luminance(self) -> f64 {
        fn lin(c: u8) -> f64 {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        }
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// Contrast ratio `(L1 + 0.05) / (L2 + 0.05)`, from 1 (same) to 21 (black on white).
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// Whichever of black and white reads better on this colour.
    pub fn best_text(self) -> Rgb {
        if self.contrast(Rgb::BLACK) >= self.contrast(Rgb::WHITE) {
            Rgb::BLACK
        } else {
            Rgb::WHITE
        }
    }

    /// This colour moved `amount` (0..1) of the way towards `to`: hover shades.
    pub fn mix(self, to: Rgb, amount: f64) -> Rgb {
        let m =
            |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * amount).round() as u8;
        Rgb(m(self.0, to.0), m(self.1, to.1), m(self.2, to.2))
    }

    /// Light enough that dark text belongs on it.
    pub fn is_light(self) -> bool {
        self.best_text() == Rgb::BLACK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_short_and_long_forms_only() {
        assert_eq!(Rgb::parse("#fff").unwrap(), Rgb::WHITE);
        assert_eq!(Rgb::parse("#4338CA").unwrap(), Rgb(0x43, 0x38, 0xca));
        for bad in ["fff", "#ffff", "#ggg", "#fff;}", "red", "", "#", "#1234567"] {
            assert!(Rgb::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn contrast_matches_the_wcag_reference_values() {
        assert!((Rgb::BLACK.contrast(Rgb::WHITE) - 21.0).abs() < 1e-9);
        assert!((Rgb::WHITE.contrast(Rgb::WHITE) - 1.0).abs() < 1e-9);
        // #777777 on white is the well-known "just fails AA" grey: 4.48:1.
        let grey = Rgb::parse("#777").unwrap();
        let r = grey.contrast(Rgb::WHITE);
        assert!((r - 4.48).abs() < 0.01, "{r}");
        assert!(r < AA_TEXT);
        // #767676 is the lightest grey that passes on white: 4.54:1.
        let r = Rgb::parse("#767676").unwrap().contrast(Rgb::WHITE);
        assert!((r - 4.54).abs() < 0.01 && r >= AA_TEXT, "{r}");
        // Symmetric.
        let a = Rgb::parse("#4338ca").unwrap();
        assert_eq!(a.contrast(Rgb::WHITE), Rgb::WHITE.contrast(a));
    }

    #[test]
    fn best_text_picks_the_readable_one() {
        assert_eq!(Rgb::parse("#ffeb3b").unwrap().best_text(), Rgb::BLACK);
        assert_eq!(Rgb::parse("#1e3a8a").unwrap().best_text(), Rgb::WHITE);
        // Whatever the colour, the better of black and white passes AA.
        for c in [
            "#777", "#808080", "#ff0000", "#00ff00", "#0000ff", "#4338ca",
        ] {
            let c = Rgb::parse(c).unwrap();
            assert!(c.contrast(c.best_text()) >= AA_TEXT, "{c:?}");
        }
    }

    #[test]
    fn mix_moves_towards_the_target() {
        assert_eq!(Rgb::WHITE.mix(Rgb::BLACK, 0.0), Rgb::WHITE);
        assert_eq!(Rgb::WHITE.mix(Rgb::BLACK, 1.0), Rgb::BLACK);
        assert_eq!(
            Rgb(100, 100, 100).mix(Rgb(200, 200, 200), 0.5),
            Rgb(150, 150, 150)
        );
    }
}
