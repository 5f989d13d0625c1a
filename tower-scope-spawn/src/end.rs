//! When a request scope ends: when the response is ready ([`AtResponse`], the
//! default) or when its body has been sent ([`AtBodyEnd`], chosen with
//! [`ScopeSpawnLayer::until_body_end`](crate::ScopeSpawnLayer::until_body_end)).
//!
//! The choice is part of the layer's type, so that the default returns the
//! inner service's body unchanged: no wrapper to poll through, and axum does
//! not box the body a second time.

use std::fmt;

use http::Response;
use http_body::Body;
use scope_spawn::ScopeGuard;

use crate::ScopeBody;
use crate::future::complete;

/// When a request scope ends; implemented by [`AtResponse`] and
/// [`AtBodyEnd`] only.
pub trait ScopeEnd: sealed::Sealed + fmt::Debug + Send + Sync + 'static {
    /// The body of the responses, for an inner body `B`.
    type Body<B: Body>: Body<Data = B::Data, Error = B::Error>;

    /// Ends the request scope now, or hands its guard to the body. (The
    /// default returns the response as it is: taken apart and put back
    /// together, it would be copied twice more.)
    #[doc(hidden)]
    fn finish<B: Body>(response: Response<B>, guard: Option<ScopeGuard>)
    -> Response<Self::Body<B>>;

    #[doc(hidden)]
    const UNTIL_BODY_END: bool;
}

/// The request scope ends when the response is ready; the body is the inner
/// service's, unchanged. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct AtResponse;

/// The request scope ends when the response body has been sent (or dropped);
/// the body is a [`ScopeBody`] that owns the scope's guard.
#[derive(Debug, Clone, Copy, Default)]
pub struct AtBodyEnd;

impl ScopeEnd for AtResponse {
    type Body<B: Body> = B;

    fn finish<B: Body>(response: Response<B>, guard: Option<ScopeGuard>) -> Response<B> {
        complete(guard);
        response
    }

    const UNTIL_BODY_END: bool = false;
}

impl ScopeEnd for AtBodyEnd {
    type Body<B: Body> = ScopeBody<B>;

    fn finish<B: Body>(response: Response<B>, guard: Option<ScopeGuard>) -> Response<ScopeBody<B>> {
        response.map(|body| ScopeBody::from_parts(body, guard))
    }

    const UNTIL_BODY_END: bool = true;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::AtResponse {}
    impl Sealed for super::AtBodyEnd {}
}
