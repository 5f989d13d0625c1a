//! What `#[scoped]` expands to: the handler's scope, from the request (under the
//! tower layer) or made for this invocation.

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use crate::{Policy, Scope, ScopeGuard, ScopeRun};

/// The scope `#[scoped]` injects: the request's scope if the tower layer put one
/// in the request extensions, otherwise none yet. An axum extractor (with the
/// `axum` feature).
#[derive(Debug, Clone)]
pub struct HandlerScope {
    request: Option<Scope>,
}

impl HandlerScope {
    /// A handler scope from the request's scope, if there is one.
    pub fn new(request: Option<Scope>) -> Self {
        HandlerScope { request }
    }

    /// Decides the handler's scope: the request's scope as it is; a child of it
    /// when options were given; without a request scope, a fresh scope (a child
    /// of [`Scope::current`] or [`Scope::global`]) owned by this invocation.
    pub fn enter(self, options: HandlerOptions) -> HandlerRun {
        match self.request {
            Some(request) if !options.explicit => HandlerRun {
                scope: request,
                guard: None,
            },
            request => {
                let parent = request
                    .or_else(Scope::current)
                    .unwrap_or_else(Scope::global);
                let mut builder = Scope::builder().name(options.name).parent(&parent);
                if let Some(timeout) = options.timeout {
                    builder = builder.timeout(timeout);
                }
                if let Some(limit) = options.limit {
                    builder = builder.limit(limit);
                }
                if let Some(policy) = options.policy {
                    builder = builder.policy(policy);
                }
                let guard = builder.build();
                HandlerRun {
                    scope: Scope::clone(&guard),
                    guard: Some(guard),
                }
            }
        }
    }
}

/// The options of `#[scoped(..)]`.
#[derive(Debug, Clone)]
pub struct HandlerOptions {
    name: Cow<'static, str>,
    timeout: Option<Duration>,
    limit: Option<usize>,
    policy: Option<Policy>,
    explicit: bool,
}

impl HandlerOptions {
    /// Options with the default name (the handler's), nothing explicit.
    pub fn new(default_name: impl Into<Cow<'static, str>>) -> Self {
        HandlerOptions {
            name: default_name.into(),
            timeout: None,
            limit: None,
            policy: None,
            explicit: false,
        }
    }

    /// `name = ..`
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self.explicit = true;
        self
    }

    /// `timeout = ..`
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self.explicit = true;
        self
    }

    /// `limit = ..`
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self.explicit = true;
        self
    }

    /// `policy = ..`
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self.explicit = true;
        self
    }
}

/// A handler invocation's scope, and the guard if the invocation owns it.
#[derive(Debug)]
pub struct HandlerRun {
    scope: Scope,
    guard: Option<ScopeGuard>,
}

impl HandlerRun {
    /// The handler's scope.
    pub fn scope(&self) -> Scope {
        self.scope.clone()
    }

    /// Runs the handler body with its scope as [`Scope::current`], ending an
    /// owned scope when the body returns or is dropped.
    pub fn run<F: Future>(self, future: F) -> ScopeRun<F> {
        ScopeRun::new(self.scope.in_scope(future), self.guard)
    }
}
