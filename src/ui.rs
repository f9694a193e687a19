//! The embedded web UI (`embed/`): content types, caching (immutable for hashed asset names,
//! no-cache for index.html), ETag/304, precompressed `.gz` siblings, SPA fallback.
//! Path safety is checked before this runs (`server::path_is_safe`).

use rust_embed::RustEmbed;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, Response as HttpResponse, StatusCode, header};
use warp::reply::{Reply, Response};

#[derive(RustEmbed)]
#[folder = "embed/"]
struct Assets;

const INDEX: &str = "index.html";

pub fn routes() -> BoxedFilter<(Response,)> {
    warp::get()
        .or(warp::head())
        .unify()
        .and(warp::path::full())
        .and(warp::header::optional::<String>("accept-encoding"))
        .and(warp::header::optional::<String>("if-none-match"))
        .map(
            |path: warp::path::FullPath, ae: Option<String>, inm: Option<String>| {
                serve(path.as_str(), ae.as_deref(), inm.as_deref())
            },
        )
        .boxed()
}

/// Vite-style hashed names (`assets/index-BdL3x9kQ.js`) never change content: cache forever.
fn is_hashed_asset(path: &str) -> bool {
    let Some(name) = path.strip_prefix("assets/") else {
        return false;
    };
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    stem.rsplit_once('-').is_some_and(|(_, h)| {
        h.len() >= 8 && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn accepts_gzip(ae: Option<&str>) -> bool {
    ae.is_some_and(|v| {
        v.split(',').any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim();
            let q_zero = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
        })
    })
}

pub fn serve(
    url_path: &str,
    accept_encoding: Option<&str>,
    if_none_match: Option<&str>,
) -> Response {
    let rel = url_path.trim_start_matches('/');
    let rel = if rel.is_empty() { INDEX } else { rel };
    let (name, file) = match Assets::get(rel) {
        Some(f) => (rel, f),
        // A missing file-like path is a real 404; a route-like path is the SPA page.
        None if rel
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.')) =>
        {
            return not_found();
        }
        None => match Assets::get(INDEX) {
            Some(f) => (INDEX, f),
            None => return not_found(),
        },
    };

    let gz = if accepts_gzip(accept_encoding) {
        Assets::get(&format!("{name}.gz"))
    } else {
        None
    };
    let etag = format!(
        "\"{}{}\"",
        hex::encode(&file.metadata.sha256_hash()[..16]),
        if gz.is_some() { "-gz" } else { "" }
    );
    let cache = if is_hashed_asset(name) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let content_type = if mime.type_() == "text" || mime.subtype() == "javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };

    let mut builder = HttpResponse::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, cache)
        .header(header::ETAG, &etag)
        .header(header::VARY, "Accept-Encoding");
    let matches = if_none_match.is_some_and(|v| {
        v.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        })
    });
    if matches {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(warp::hyper::body::Bytes::new())
            .map(Reply::into_response)
            .unwrap_or_else(|_| not_found());
    }
    let data = match gz {
        Some(gz) => {
            builder = builder.header(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            gz.data
        }
        None => file.data,
    };
    builder
        .status(StatusCode::OK)
        .body(warp::hyper::body::Bytes::from(data.into_owned()))
        .map(Reply::into_response)
        .unwrap_or_else(|_| not_found())
}

fn not_found() -> Response {
    warp::reply::with_status(
        warp::reply::json(&serde_json::json!({"error": "Not found"})),
        StatusCode::NOT_FOUND,
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names() {
        assert!(is_hashed_asset("assets/index-BdL3x9kQ.js"));
        assert!(is_hashed_asset("assets/vendor-a1b2c3d4e5.css"));
        assert!(!is_hashed_asset("index.html"));
        assert!(!is_hashed_asset("assets/logo.svg"));
        assert!(!is_hashed_asset("assets/x-abc.js"));
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(Some("gzip, deflate, br")));
        assert!(accepts_gzip(Some("br;q=1.0, gzip;q=0.8")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("br")));
        assert!(!accepts_gzip(None));
    }
}
