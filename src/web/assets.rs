//! The stylesheet and images, compiled into the binary so that one file is all an operator
//! deploys; the generated `theme.css` and logo of the `[branding]` settings; and the files
//! of `branding.assets_dir` under `/branding/`.
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::branding::{Theme, asset_type, is_plain_file_name};

const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/style.css"),
    ),
    (
        "passkeys.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/passkeys.js"),
    ),
    (
        "logo.svg",
        "image/svg+xml",
        include_bytes!("../../static/logo.svg"),
    ),
];

/// Largest file served from `branding.assets_dir`.
const MAX_BRANDING_FILE: u64 = 2 * 1024 * 1024;

pub async fn asset(State(s): State<AppState>, Path(file): Path<String>) -> Response {
    let theme = &s.ui.theme;
    if file == "theme.css" {
        return cached(theme.css.clone().into_bytes(), "text/css; charset=utf-8");
    }
    if Some(file.as_str()) == Theme::LOGO_PATH.strip_prefix("/static/")
        && let Some(logo) = &theme.logo_file
    {
        return cached(logo.bytes.clone(), logo.content_type);
    }
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, body)) => cached(body.to_vec(), mime),
        None => not_found(),
    }
}

/// GET /branding/{file}: a file of the operator's assets folder. Only plain file names of
/// stylesheet, font and image types are served, so the folder cannot publish pages or
/// scripts on this origin, and no path can leave it.
pub async fn branding_asset(State(s): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(dir) = &s.ui.theme.assets_dir else {
        return not_found();
    };
    let Some(mime) = asset_type(&file).filter(|_| is_plain_file_name(&file)) else {
        return not_found();
    };
    let path = dir.join(&file);
    match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_file() && m.len() <= MAX_BRANDING_FILE => {}
        _ => return not_found(),
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => cached(bytes, mime),
        Err(e) => {
            tracing::warn!(error = %e, file = %path.display(), "failed to read a branding file");
            not_found()
        }
    }
}

fn cached(body: Vec<u8>, mime: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}
