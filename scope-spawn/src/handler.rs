//! What `#[scoped]` expands to: the handler's scope, from the request (under the
//! tower layer) or made for this invocation.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use crate::{Policy, Scope, ScopeBuilder, ScopeGuard, ScopeRun};

/// The scope `#[scoped]` injects: the request's scope if the tower layer put one
/// in the request extensions, otherwise none yet. An axum extractor (with the
/// `axum` feature): from the request's parts ([`ViaParts`], in any position),
/// or from the whole request ([`ViaRequest`], in the last position).
pub struct HandlerScope<Via = ViaParts> {
    request: Option<Scope>,
    via: PhantomData<fn() -> Via>,
}

/// [`HandlerScope`] extracted from the request's parts: any position.
#[derive(Debug)]
pub enum ViaParts {}

/// [`HandlerScope`] extracted from the whole request, which must then be the
/// handler's last argument: this spares axum taking the request apart a
/// second time (as it does for a parts extractor in the last position) when
/// the scope is a handler's only argument.
#[derive(Debug)]
pub enum ViaRequest {}

impl<Via> HandlerScope<Via> {
    /// A handler scope from the request's scope, if there is one.
    pub fn new(request: Option<Scope>) -> Self {
        HandlerScope {
            request,
            via: PhantomData,
        }
    }

    /// Decides the handler's scope: the request's scope as it is; a child of it
    /// when options were given; without a request scope, a fresh scope (a child
    /// of [`Scope::current`] or [`Scope::global`]) owned by this invocation.
    pub fn enter(self, options: HandlerOptions) -> HandlerRun {
        match (self.request, options.builder) {
            (Some(request), None) => HandlerRun {
                scope: RunScope::Request(request),
            },
            (request, builder) => {
                let parent = request
                    .or_else(Scope::current)
                    .unwrap_or_else(Scope::global);
                let builder = builder.unwrap_or_else(|| Scope::builder().name(options.name));
                HandlerRun {
                    scope: RunScope::Owned(builder.parent(&parent).build()),
                }
            }
        }
    }
}

impl<Via> Clone for HandlerScope<Via> {
    fn clone(&self) -> Self {
        HandlerScope::new(self.request.clone())
    }
}

impl<Via> fmt::Debug for HandlerScope<Via> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerScope")
            .field("request", &self.request)
            .finish()
    }
}

/// The options of `#[scoped(..)]`: the handler's name, the default name of
/// its own scope, and a [`ScopeBuilder`] once any option is given (without
/// one, a request scope is used as it is, and nothing is built for it).
#[derive(Debug, Clone)]
pub struct HandlerOptions {
    name: &'static str,
    builder: Option<ScopeBuilder>,
}

impl HandlerOptions {
    /// Options with the default name (the handler's), nothing explicit.
    #[inline]
    pub fn new(default_name: &'static str) -> Self {
        HandlerOptions {
            name: default_name,
            builder: None,
        }
    }

    fn explicit(self, builder: impl FnOnce(ScopeBuilder) -> ScopeBuilder) -> Self {
        let base = self
            .builder
            .unwrap_or_else(|| Scope::builder().name(self.name));
        HandlerOptions {
            name: self.name,
            builder: Some(builder(base)),
        }
    }

    /// `name = ..`
    pub fn name(self, name: impl Into<Cow<'static, str>>) -> Self {
        self.explicit(|b| b.name(name))
    }

    /// `timeout = ..`
    #[track_caller]
    pub fn timeout(self, timeout: Duration) -> Self {
        self.explicit(|b| b.timeout(timeout))
    }

    /// `limit = ..`
    #[track_caller]
    pub fn limit(self, limit: usize) -> Self {
        self.explicit(|b| b.limit(limit))
    }

    /// `policy = ..`
    pub fn policy(self, policy: Policy) -> Self {
        self.explicit(|b| b.policy(policy))
    }
}

/// A handler invocation's scope: the guard if the invocation owns it, else
/// the request's scope.
#[derive(Debug)]
pub struct HandlerRun {
    scope: RunScope,
}

#[derive(Debug)]
enum RunScope {
    /// The invocation's own scope.
    Owned(ScopeGuard),
    /// The request's scope.
    Request(Scope),
}

impl HandlerRun {
    /// The handler's scope.
    pub fn scope(&self) -> Scope {
        match &self.scope {
            RunScope::Owned(guard) => Scope::clone(guard),
            RunScope::Request(scope) => scope.clone(),
        }
    }

    /// Runs the handler body with its scope as [`Scope::current`], ending an
    /// owned scope when the body returns or is dropped.
    pub fn run<F: Future>(self, future: F) -> ScopeRun<F> {
        match self.scope {
            RunScope::Owned(guard) => ScopeRun::owned(guard, future),
            RunScope::Request(scope) => ScopeRun::within(scope, future),
        }
    }
}
