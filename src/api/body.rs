//! Request bodies: read with a hard size cap (also for chunked bodies that carry no
//! Content-Length), then parsed as JSON with an error that says where it went wrong.

use super::error::ApiError;
use bytes::{Buf, BytesMut};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use warp::Filter;

/// Reads the whole body, refusing (413) as soon as it passes `limit` bytes.
pub fn bytes_limited(
    limit: usize,
) -> impl Filter<Extract = (bytes::Bytes,), Error = warp::Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .and_then(move |len: Option<u64>, stream| read_capped(len, stream, limit))
}

async fn read_capped<S, B>(
    len: Option<u64>,
    stream: S,
    limit: usize,
) -> Result<bytes::Bytes, warp::Rejection>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    if len.is_some_and(|l| l > limit as u64) {
        return Err(ApiError::payload_too_large(limit).reject());
    }
    let mut stream = std::pin::pin!(stream);
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk =
            chunk.map_err(|_| ApiError::bad_request("Could not read request body").reject())?;
        if buf.len() + chunk.remaining() > limit {
            return Err(ApiError::payload_too_large(limit).reject());
        }
        while chunk.has_remaining() {
            let c = chunk.chunk();
            let n = c.len();
            buf.extend_from_slice(c);
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}

/// A JSON body of type `T`, capped at `limit` bytes.
pub fn json<T: DeserializeOwned + Send>(
    limit: usize,
) -> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone {
    bytes_limited(limit).and_then(|b: bytes::Bytes| async move {
        serde_json::from_slice::<T>(&b)
            .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")).reject())
    })
}
