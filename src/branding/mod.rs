//! The operator's brand on the sign-in pages, resolved once at start-up from
//! `config::BrandingSettings`: product name, logo, a generated stylesheet of CSS variables
//! (the pages' CSP forbids inline styles, so colours travel in `/static/theme.css`), the
//! extra stylesheet, and the WCAG contrast checks. No HTTP here; `web/` serves the result.
mod colour;

use std::path::{Path, PathBuf};

use anyhow::Context;

pub use colour::{AA_TEXT, Rgb};

use crate::config::BrandingSettings;

/// Largest logo file read into memory.
const MAX_LOGO: u64 = 512 * 1024;

/// The built-in palettes of `static/style.css` that a brand colour is shown against.
const LIGHT: Palette = Palette {
    text: Rgb(0x15, 0x18, 0x21),
    muted: Rgb(0x53, 0x5a, 0x68),
    surface: Rgb(0xff, 0xff, 0xff),
};
const DARK: Palette = Palette {
    text: Rgb(0xe8, 0xea, 0xf0),
    muted: Rgb(0xa4, 0xab, 0xba),
    surface: Rgb(0x18, 0x1b, 0x24),
};

struct Palette {
    text: Rgb,
    muted: Rgb,
    surface: Rgb,
}

/// A logo file served by Latchkey itself.
#[derive(Debug, Clone)]
pub struct LogoFile {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Everything the pages need to wear the brand.
#[derive(Debug, Clone)]
pub struct Theme {
    pub product_name: String,
    /// `src` of the header logo.
    pub logo_src: String,
    /// The logo bytes when it is a local file (served at [`Theme::LOGO_PATH`]).
    pub logo_file: Option<LogoFile>,
    /// Origin of an external logo, for the CSP `img-src`.
    pub logo_origin: Option<String>,
    /// Body of `/static/theme.css`.
    pub css: String,
    /// `href` of the theme stylesheet, versioned by its content so that browsers holding a
    /// cached copy (`max-age`) pick up new colours after a restart.
    pub css_href: String,
    /// Folder served under `/branding/`.
    pub assets_dir: Option<PathBuf>,
    /// `href` of the operator's stylesheet, loaded after the built-in ones.
    pub stylesheet_href: Option<String>,
    /// Colour pairs that fail WCAG AA for text, in words, for the start-up log.
    pub contrast_warnings: Vec<String>,
}

impl Theme {
    pub const LOGO_PATH: &'static str = "/static/brand-logo";

    /// Resolves the settings; a logo file that cannot be read fails the start-up.
    pub fn load(b: &BrandingSettings) -> anyhow::Result<Self> {
        let colours = Colours::parse(b)?;
        let (logo_src, logo_file, logo_origin) = match b.logo.as_deref() {
            None => ("/static/logo.svg".to_owned(), None, None),
            Some(url) if url.starts_with("https://") => {
                let parsed = url::Url::parse(url).context("branding.logo is not a valid URL")?;
                (
                    parsed.to_string(),
                    None,
                    Some(parsed.origin().ascii_serialization()),
                )
            }
            Some(path) => {
                let file = read_logo(Path::new(path))?;
                let src = format!("{}?v={}", Self::LOGO_PATH, version(&file.bytes));
                (src, Some(file), None)
            }
        };
        if let Some(dir) = &b.assets_dir
            && !dir.is_dir()
        {
            anyhow::bail!("branding.assets_dir {} is not a folder", dir.display());
        }
        let stylesheet_href = match (&b.assets_dir, &b.stylesheet) {
            (Some(dir), Some(sheet)) => {
                let file = dir.join(sheet);
                anyhow::ensure!(
                    file.is_file(),
                    "branding.stylesheet {} does not exist",
                    file.display()
                );
                Some(format!("/branding/{sheet}"))
            }
            _ => None,
        };
        let css = colours.css();
        Ok(Self {
            product_name: b.product_name.trim().to_owned(),
            logo_src,
            logo_file,
            logo_origin,
            css_href: format!("/static/theme.css?v={}", version(css.as_bytes())),
            css,
            assets_dir: b.assets_dir.clone(),
            stylesheet_href,
            contrast_warnings: colours.contrast_warnings(),
        })
    }
}

/// The configured colours, parsed.
struct Colours {
    primary: Option<Rgb>,
    primary_text: Option<Rgb>,
    background: Option<Rgb>,
    text: Option<Rgb>,
}

impl Colours {
    fn parse(b: &BrandingSettings) -> anyhow::Result<Self> {
        let one = |name: &str, v: &Option<String>| -> anyhow::Result<Option<Rgb>> {
            v.as_deref()
                .map(Rgb::parse)
                .transpose()
                .with_context(|| format!("branding.{name} is not a colour"))
        };
        Ok(Self {
            primary: one("primary_color", &b.primary_color)?,
            primary_text: one("primary_text_color", &b.primary_text_color)?,
            background: one("background_color", &b.background_color)?,
            text: one("text_color", &b.text_color)?,
        })
    }

    /// With a background or text colour the page has one scheme (light or dark, from the
    /// background, else from the text); otherwise it follows the browser's preference.
    fn fixed_palette(&self) -> Option<&'static Palette> {
        match (self.background, self.text) {
            (Some(bg), _) => Some(if bg.is_light() { &LIGHT } else { &DARK }),
            (None, Some(text)) => Some(if text.is_light() { &DARK } else { &LIGHT }),
            (None, None) => None,
        }
    }

    fn on_primary(&self) -> Option<Rgb> {
        self.primary
            .map(|p| self.primary_text.unwrap_or(p.best_text()))
    }

    fn css(&self) -> String {
        let mut vars: Vec<(&str, String)> = Vec::new();
        if let Some(palette) = self.fixed_palette() {
            let scheme = if std::ptr::eq(palette, &LIGHT) {
                "light"
            } else {
                "dark"
            };
            vars.push(("color-scheme", scheme.to_owned()));
            if let Some(bg) = self.background {
                vars.push(("--bg", bg.hex()));
            }
            vars.push(("--text", self.text.unwrap_or(palette.text).hex()));
            vars.push(("--muted", palette.muted.hex()));
            vars.push(("--surface", palette.surface.hex()));
            vars.push(("--secondary-bg", palette.surface.hex()));
        }
        if let (Some(primary), Some(on)) = (self.primary, self.on_primary()) {
            let hover = primary.mix(on, 0.18);
            vars.push(("--primary", primary.hex()));
            vars.push(("--primary-hover", hover.hex()));
            vars.push(("--on-primary", on.hex()));
            vars.push(("--focus", primary.hex()));
        }
        let mut css = String::from(
            "/* Generated at start-up from the [branding] settings. Loaded after style.css, so\n   these win over both of its colour schemes. */\n",
        );
        if !vars.is_empty() {
            css.push_str(":root {\n");
            for (name, value) in vars {
                css.push_str(&format!("  {name}: {value};\n"));
            }
            css.push_str("}\n");
        }
        css
    }

    fn contrast_warnings(&self) -> Vec<String> {
        let mut pairs: Vec<(String, Rgb, Rgb)> = Vec::new();
        if let Some(palette) = self.fixed_palette() {
            let text = self.text.unwrap_or(palette.text);
            if let Some(bg) = self.background {
                pairs.push(("text on background_color".into(), text, bg));
            }
            pairs.push(("text on the page's card".into(), text, palette.surface));
        }
        if let (Some(primary), Some(on)) = (self.primary, self.on_primary()) {
            pairs.push(("button text on primary_color".into(), on, primary));
            let surfaces: &[(&str, Rgb)] = match self.fixed_palette() {
                Some(p) => &[("the card", p.surface)],
                None => &[
                    ("the light card", LIGHT.surface),
                    ("the dark card", DARK.surface),
                ],
            };
            for (name, surface) in surfaces {
                pairs.push((format!("primary_color text on {name}"), primary, *surface));
            }
        }
        pairs
            .into_iter()
            .filter_map(|(what, fg, bg)| {
                let ratio = fg.contrast(bg);
                (ratio < AA_TEXT).then(|| {
                    format!(
                        "{what} ({} on {}) has a contrast of {ratio:.2}:1, below the {AA_TEXT}:1 WCAG AA minimum for text",
                        fg.hex(),
                        bg.hex()
                    )
                })
            })
            .collect()
    }
}

/// A short content hash for cache-busting URLs.
fn version(bytes: &[u8]) -> String {
    crate::crypto::sha256_b64url(bytes)
        .chars()
        .take(10)
        .collect()
}

fn read_logo(path: &Path) -> anyhow::Result<LogoFile> {
    let content_type = image_type(path).with_context(|| {
        format!(
            "branding.logo {}: use an .svg, .png, .jpg, .webp or .gif file",
            path.display()
        )
    })?;
    let len = std::fs::metadata(path)
        .with_context(|| format!("failed to read branding.logo {}", path.display()))?
        .len();
    anyhow::ensure!(
        len <= MAX_LOGO,
        "branding.logo {} is larger than {} KiB",
        path.display(),
        MAX_LOGO / 1024
    );
    let bytes = std::fs::read(path)
        .with_context(|| format!("failed to read branding.logo {}", path.display()))?;
    Ok(LogoFile {
        content_type,
        bytes,
    })
}

fn image_type(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        _ => return None,
    })
}

/// The content type of a file served from `branding.assets_dir`, or `None` for a type
/// that is not served (so the folder cannot publish scripts or HTML).
pub fn asset_type(name: &str) -> Option<&'static str> {
    let path = Path::new(name);
    if let Some(t) = image_type(path) {
        return Some(t);
    }
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "css" => "text/css; charset=utf-8",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ico" => "image/x-icon",
        _ => return None,
    })
}

/// A bare file name (no folder, no `..`, not hidden): what may be looked up in
/// `branding.assets_dir`.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(f: impl FnOnce(&mut BrandingSettings)) -> BrandingSettings {
        let mut b = BrandingSettings::default();
        f(&mut b);
        b
    }

    #[test]
    fn defaults_change_nothing_and_warn_about_nothing() {
        let t = Theme::load(&BrandingSettings::default()).unwrap();
        assert!(!t.css.contains(":root"), "{}", t.css);
        assert!(t.contrast_warnings.is_empty());
        assert_eq!(t.logo_src, "/static/logo.svg");
        assert_eq!(t.product_name, "Latchkey");
    }

    #[test]
    fn colours_become_css_variables() {
        let t = Theme::load(&settings(|b| {
            b.primary_color = Some("#0a7d33".into());
            b.background_color = Some("#fdf6e3".into());
        }))
        .unwrap();
        assert!(t.css.contains("--primary: #0a7d33;"), "{}", t.css);
        assert!(t.css.contains("--bg: #fdf6e3;"));
        assert!(t.css.contains("--on-primary: #ffffff;"));
        assert!(t.css.contains("color-scheme: light;"));
        assert!(t.contrast_warnings.is_empty(), "{:?}", t.contrast_warnings);
    }

    #[test]
    fn a_dark_background_switches_to_the_dark_palette() {
        let t = Theme::load(&settings(|b| b.background_color = Some("#101820".into()))).unwrap();
        assert!(t.css.contains("color-scheme: dark;"), "{}", t.css);
        assert!(t.css.contains(&format!("--text: {};", DARK.text.hex())));
    }

    #[test]
    fn poor_contrast_is_reported_per_pair() {
        let t = Theme::load(&settings(|b| {
            b.background_color = Some("#ffffff".into());
            b.text_color = Some("#999999".into());
            b.primary_color = Some("#ffd700".into());
            b.primary_text_color = Some("#ffffff".into());
        }))
        .unwrap();
        let w = t.contrast_warnings.join("\n");
        assert!(
            w.contains("text on background_color (#999999 on #ffffff)"),
            "{w}"
        );
        assert!(
            w.contains("button text on primary_color (#ffffff on #ffd700)"),
            "{w}"
        );
        assert!(w.contains("primary_color text on the card"), "{w}");
        assert!(w.contains("WCAG AA"), "{w}");
    }

    #[test]
    fn file_names_for_the_assets_folder_are_plain() {
        for ok in ["brand.css", "logo-2x.png", "a_b.woff2"] {
            assert!(is_plain_file_name(ok), "{ok}");
        }
        for bad in ["", "../x.css", ".env", "a/b.css", "a\\b.css", "x%2e.css"] {
            assert!(!is_plain_file_name(bad), "{bad}");
        }
        assert_eq!(asset_type("brand.css"), Some("text/css; charset=utf-8"));
        assert_eq!(asset_type("x.html"), None);
        assert_eq!(asset_type("x.js"), None);
    }

    #[test]
    fn a_missing_logo_file_fails_the_start() {
        let err =
            Theme::load(&settings(|b| b.logo = Some("/nonexistent/logo.png".into()))).unwrap_err();
        assert!(format!("{err:#}").contains("branding.logo"), "{err:#}");
    }
}
