//! `[branding]`: product name, logo, colours and extra assets of the pages.
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::Settings;

/// How the sign-in pages look: read at start-up, no recompiling. Colours are `#rgb` or
/// `#rrggbb`; unset colours keep the built-in light and dark palettes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BrandingSettings {
    /// Shown in the page header, the page titles and the footer.
    pub product_name: String,
    /// The header logo: a local file (SVG, PNG, JPEG, WebP or GIF, read once at start-up and
    /// served by Latchkey) or an `https://` URL (then allowed by the pages' CSP `img-src`).
    pub logo: Option<String>,
    /// Buttons and links.
    pub primary_color: Option<String>,
    /// Text on primary buttons; black or white, whichever contrasts more, when unset.
    pub primary_text_color: Option<String>,
    /// The page background.
    pub background_color: Option<String>,
    /// Body text; a dark or light grey matching the background when unset.
    pub text_color: Option<String>,
    /// A folder whose files are served under `/branding/` (fonts, images, stylesheets).
    pub assets_dir: Option<PathBuf>,
    /// A stylesheet in `assets_dir` that every page loads after the built-in ones.
    pub stylesheet: Option<String>,
}

impl Default for BrandingSettings {
    fn default() -> Self {
        Self {
            product_name: "Latchkey".into(),
            logo: None,
            primary_color: None,
            primary_text_color: None,
            background_color: None,
            text_color: None,
            assets_dir: None,
            stylesheet: None,
        }
    }
}

impl Settings {
    pub(super) fn validate_branding(&self) -> anyhow::Result<()> {
        let b = &self.branding;
        if b.product_name.trim().is_empty() || b.product_name.chars().count() > 64 {
            bail!("branding.product_name must be 1 to 64 characters");
        }
        for (name, value) in [
            ("primary_color", &b.primary_color),
            ("primary_text_color", &b.primary_text_color),
            ("background_color", &b.background_color),
            ("text_color", &b.text_color),
        ] {
            if let Some(v) = value {
                crate::branding::Rgb::parse(v)
                    .with_context(|| format!("branding.{name} is not a colour"))?;
            }
        }
        if let Some(logo) = &b.logo
            && (logo.starts_with("http:") || logo.contains("://"))
            && !logo.starts_with("https://")
        {
            bail!("branding.logo must be a file path or an https:// URL");
        }
        if b.stylesheet.is_some() && b.assets_dir.is_none() {
            bail!("branding.stylesheet names a file in branding.assets_dir, which is not set");
        }
        if let Some(sheet) = &b.stylesheet
            && !crate::branding::is_plain_file_name(sheet)
        {
            bail!("branding.stylesheet must be a file name inside branding.assets_dir");
        }
        Ok(())
    }
}
