//! What every page wears: the operator's brand (`branding::Theme`) and the language chosen
//! for this request (`i18n::Catalogues`). `Page` is the extractor handlers take; a view gets
//! the resulting `Chrome` for `base.html`.
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use crate::branding::Theme;
use crate::i18n::{Catalogues, Messages};

/// Loaded once at start-up, shared by every request.
#[derive(Debug)]
pub struct Ui {
    pub theme: Theme,
    pub catalogues: Catalogues,
}

/// The request's page context: the shared `Ui` and the browser's `Accept-Language`.
pub struct Page {
    ui: Arc<Ui>,
    accept_language: Option<String>,
}

/// Brand and language of one rendered page.
pub struct Chrome<'a> {
    /// `<html lang>`.
    pub lang: &'static str,
    pub t: &'a Messages,
    pub brand: &'a Theme,
}

impl Page {
    /// The page's chrome; `ui_locales` from the authorization request wins over the header.
    pub fn chrome(&self, ui_locales: Option<&str>) -> Chrome<'_> {
        let c = self
            .ui
            .catalogues
            .choose(ui_locales, self.accept_language.as_deref());
        Chrome {
            lang: c.lang,
            t: &c.messages,
            brand: &self.ui.theme,
        }
    }
}

impl FromRequestParts<AppState> for Page {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let accept_language = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self {
            ui: Arc::clone(&state.ui),
            accept_language,
        })
    }
}
