//! Headers every response carries, error pages, JSON and 404s included (the HTML pages set
//! their own CSP first, and any header a handler set is kept): no sniffing, no framing
//! (clickjacking, RFC 9700 section 4.16), no referrer (RFC 9700 section 4.2.4), HSTS when
//! the issuer is https. One layer for all of them: it runs on every request.
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use tower::util::MapResponseLayer;

const ALWAYS: [(HeaderName, HeaderValue); 4] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
];

const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// The layer; `https`: whether to send `Strict-Transport-Security`.
pub fn layer(https: bool) -> MapResponseLayer<impl Fn(Response) -> Response + Clone> {
    MapResponseLayer::new(move |resp| add(resp, https))
}

/// Sets the headers `resp` does not have yet.
pub fn add(mut resp: Response, https: bool) -> Response {
    let h = resp.headers_mut();
    // Room for all of them at once: one allocation rather than a few growths per response.
    h.reserve(ALWAYS.len() + usize::from(https));
    for (name, value) in ALWAYS {
        if let header::Entry::Vacant(slot) = h.entry(name) {
            slot.insert(value);
        }
    }
    if https && let header::Entry::Vacant(slot) = h.entry(header::STRICT_TRANSPORT_SECURITY) {
        slot.insert(HSTS);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_missing_headers_and_keeps_those_already_set() {
        let mut resp = Response::new(axum::body::Body::empty());
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'"),
        );
        let resp = add(resp, false);
        let h = resp.headers();
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], "default-src 'self'");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none());
        let https = add(Response::new(axum::body::Body::empty()), true);
        assert_eq!(
            https.headers()[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000"
        );
    }
}
