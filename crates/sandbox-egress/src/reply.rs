//! The answers the proxy gives itself: a short plain-text error, and the 403 of a refusal
//! (recorded, with the rule in `x-sandbox-denial` and the connection closed after it).

use crate::denial::Denial;
use crate::state::Shared;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};

pub(crate) type Body = BoxBody<Bytes, hyper::Error>;

pub(crate) fn text(status: StatusCode, msg: &str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(format!("{msg}\n")))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    r
}

/// Records `d` and gives the 403 that tells the client why.
pub(crate) fn refused(sh: &Shared, d: &Denial) -> Response<Body> {
    sh.record(d);
    let mut r = text(StatusCode::FORBIDDEN, &d.message);
    r.headers_mut()
        .insert("connection", HeaderValue::from_static("close"));
    let rule = serde_json::to_value(&d.reason)
        .ok()
        .and_then(|v| v.get("rule").and_then(|r| r.as_str()).map(str::to_string))
        .unwrap_or_default();
    if let Ok(v) = HeaderValue::from_str(&rule) {
        r.headers_mut().insert("x-sandbox-denial", v);
    }
    r
}
