//! Parsing and validating macro input into typed arguments.
//!
//! Everything here returns `syn::Result`; errors are spanned at the user's
//! tokens and name the macro they come from. Nothing here panics on user input.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Expr, FnArg, Ident, Item, ItemFn, Lit, LitStr, Token, Type};

use crate::duration::{self, DurationError, DurationLit};

/// The keywords the macros accept as `keyword = value`.
pub(crate) mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(limit);
    syn::custom_keyword!(policy);
    syn::custom_keyword!(max);
}

/// The most arguments an axum handler can take.
pub(crate) const AXUM_MAX_ARGS: usize = 16;

/// Adds `error` to `errors`, keeping every error seen so far.
fn push_error(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(errors) => errors.combine(error),
        None => *errors = Some(error),
    }
}

/// `Ok(value)` if no error was collected, else all of them.
fn finish<T>(value: T, errors: Option<syn::Error>) -> syn::Result<T> {
    match errors {
        Some(errors) => Err(errors),
        None => Ok(value),
    }
}

/// Combines two independent results, reporting the errors of both.
pub(crate) fn both<A, B>(a: syn::Result<A>, b: syn::Result<B>) -> syn::Result<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(mut a), Err(b)) => {
            a.combine(b);
            Err(a)
        }
    }
}

// ---------------------------------------------------------------------------
// #[scoped(...)]
// ---------------------------------------------------------------------------

/// The arguments of `#[scoped(name = …, timeout = …, limit = …, policy = …)]`.
#[derive(Default)]
pub(crate) struct ScopedArgs {
    /// `name = "literal"` or `name = expr`.
    pub(crate) name: Option<Expr>,
    pub(crate) timeout: Option<TimeoutArg>,
    pub(crate) limit: Option<Expr>,
    pub(crate) policy: Option<PolicyArg>,
}

/// `timeout = "2s"` or `timeout = <Duration expression>`.
pub(crate) enum TimeoutArg {
    /// A duration string, checked when parsed.
    Literal(DurationLit),
    /// Any other expression, of type `Duration`.
    Expr(Expr),
}

/// `policy = fail_fast` or `policy = <Policy expression>`.
pub(crate) enum PolicyArg {
    Named { ident: Ident, policy: PolicyName },
    Expr(Expr),
}

/// The policies `policy = …` accepts by name.
#[derive(Clone, Copy)]
pub(crate) enum PolicyName {
    Supervise,
    FailFast,
    CollectAll,
}

impl PolicyName {
    /// The `scope_spawn::Policy` variant this name stands for.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            PolicyName::Supervise => "Supervise",
            PolicyName::FailFast => "FailFast",
            PolicyName::CollectAll => "CollectAll",
        }
    }
}

impl Parse for ScopedArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = ScopedArgs::default();
        let mut errors = None;
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::name) {
                let key = input.parse::<kw::name>()?;
                let value = scoped_value(input, "name", "name = \"get_user\"")?;
                set_once(&mut args.name, value, "name", key.span, &mut errors);
            } else if lookahead.peek(kw::timeout) {
                let key = input.parse::<kw::timeout>()?;
                let value = scoped_value(input, "timeout", "timeout = \"2s\"")?;
                match timeout_arg(value) {
                    Ok(value) => {
                        set_once(&mut args.timeout, value, "timeout", key.span, &mut errors)
                    }
                    Err(error) => push_error(&mut errors, error),
                }
            } else if lookahead.peek(kw::limit) {
                let key = input.parse::<kw::limit>()?;
                let value = scoped_value(input, "limit", "limit = 8")?;
                match limit_arg(value) {
                    Ok(value) => set_once(&mut args.limit, value, "limit", key.span, &mut errors),
                    Err(error) => push_error(&mut errors, error),
                }
            } else if lookahead.peek(kw::policy) {
                let key = input.parse::<kw::policy>()?;
                let value = scoped_value(input, "policy", "policy = fail_fast")?;
                match policy_arg(value) {
                    Ok(value) => set_once(&mut args.policy, value, "policy", key.span, &mut errors),
                    Err(error) => push_error(&mut errors, error),
                }
            } else if input.peek(Ident::peek_any) {
                let key = input.call(Ident::parse_any)?;
                push_error(
                    &mut errors,
                    syn::Error::new(
                        key.span(),
                        format!(
                            "unknown `#[scoped]` option `{}`; expected one of `name`, `timeout`, `limit`, `policy`",
                            key.unraw()
                        ),
                    ),
                );
                // Skip the value, if any, so the options after it are still checked.
                if input.parse::<Option<Token![=]>>()?.is_some() {
                    input.parse::<Expr>()?;
                }
            } else {
                return Err(syn::Error::new(
                    input.span(),
                    "expected a `#[scoped]` option: one of `name`, `timeout`, `limit`, `policy`",
                ));
            }
            if input.is_empty() {
                break;
            }
            if !input.peek(Token![,]) {
                return Err(syn::Error::new(
                    input.span(),
                    "expected `,` between `#[scoped]` options",
                ));
            }
            input.parse::<Token![,]>()?;
        }
        finish(args, errors)
    }
}

/// Parses `= value` after the option `option`.
fn scoped_value(input: ParseStream<'_>, option: &str, example: &str) -> syn::Result<Expr> {
    if !input.peek(Token![=]) || input.peek(Token![==]) {
        return Err(syn::Error::new(
            input.span(),
            format!("`#[scoped]` option `{option}` needs a value, e.g. `{example}`"),
        ));
    }
    input.parse::<Token![=]>()?;
    input.parse()
}

/// Stores `value` in `slot`, or records a "specified more than once" error at `key`.
fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    option: &str,
    key: Span,
    errors: &mut Option<syn::Error>,
) {
    if slot.is_some() {
        push_error(
            errors,
            syn::Error::new(
                key,
                format!("`{option}` specified more than once in `#[scoped]`"),
            ),
        );
    } else {
        *slot = Some(value);
    }
}

fn timeout_arg(value: Expr) -> syn::Result<TimeoutArg> {
    let Expr::Lit(expr) = &value else {
        return Ok(TimeoutArg::Expr(value));
    };
    match &expr.lit {
        Lit::Str(lit) => match duration::parse(&lit.value()) {
            Ok(duration) => Ok(TimeoutArg::Literal(duration)),
            Err(DurationError::Syntax) => Err(syn::Error::new(
                lit.span(),
                format!(
                    "`#[scoped]` could not parse duration {:?}; expected a number followed by `ms`, `s`, `m` or `h`, e.g. \"250ms\", \"2s\", \"1m\"",
                    lit.value()
                ),
            )),
            Err(DurationError::Overflow) => Err(syn::Error::new(
                lit.span(),
                format!("`#[scoped]` duration {:?} is too large", lit.value()),
            )),
            Err(DurationError::Zero) => Err(syn::Error::new(
                lit.span(),
                "`#[scoped]` `timeout` must be greater than zero; a zero timeout would cancel every request before it starts",
            )),
        },
        Lit::Int(lit) => Err(syn::Error::new(
            lit.span(),
            format!(
                "`#[scoped]` `timeout` needs a unit; write a string such as `timeout = \"{0}s\"` or `timeout = \"{0}ms\"`, or a `Duration` expression",
                lit.base10_digits()
            ),
        )),
        _ => Err(syn::Error::new(
            expr.lit.span(),
            "`#[scoped]` `timeout` expects a duration string such as \"2s\" or a `Duration` expression",
        )),
    }
}

fn limit_arg(value: Expr) -> syn::Result<Expr> {
    let Expr::Lit(expr) = &value else {
        return Ok(value);
    };
    let Lit::Int(lit) = &expr.lit else {
        return Err(syn::Error::new(
            expr.lit.span(),
            "`#[scoped]` `limit` must be an integer, e.g. `limit = 8`",
        ));
    };
    match lit.base10_parse::<usize>() {
        Ok(0) => Err(syn::Error::new(
            lit.span(),
            "`#[scoped]` `limit` must be at least 1",
        )),
        Ok(_) => Ok(value),
        Err(_) => Err(syn::Error::new(
            lit.span(),
            "`#[scoped]` `limit` does not fit in a `usize`",
        )),
    }
}

fn policy_arg(value: Expr) -> syn::Result<PolicyArg> {
    let Expr::Path(path) = &value else {
        return Err(policy_error(&value));
    };
    let Some(ident) = path.path.get_ident() else {
        // `policy = Policy::FailFast` or any other path: taken as a `Policy` value.
        return Ok(PolicyArg::Expr(value));
    };
    let policy = match ident.unraw().to_string().as_str() {
        "supervise" => PolicyName::Supervise,
        "fail_fast" => PolicyName::FailFast,
        "collect_all" => PolicyName::CollectAll,
        _ => return Err(policy_error(ident)),
    };
    Ok(PolicyArg::Named {
        ident: ident.clone(),
        policy,
    })
}

fn policy_error(value: &dyn quote::ToTokens) -> syn::Error {
    let shown = value.to_token_stream().to_string();
    syn::Error::new_spanned(
        value,
        format!(
            "unknown `#[scoped]` policy `{shown}`; expected one of `supervise`, `fail_fast`, `collect_all`"
        ),
    )
}

/// An `async fn` that `#[scoped]` can wrap.
pub(crate) struct ScopedFn {
    pub(crate) func: ItemFn,
    /// The position of the parameter the user declared as `Scope`, if any.
    pub(crate) scope_param: Option<usize>,
}

impl Parse for ScopedFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let func = match input.parse::<Item>()? {
            Item::Fn(func) => func,
            other => {
                return Err(syn::Error::new(
                    item_keyword_span(&other),
                    "`#[scoped]` can only be applied to an `async fn`",
                ));
            }
        };
        let mut errors = None;
        if func.sig.asyncness.is_none() {
            push_error(
                &mut errors,
                syn::Error::new(func.sig.fn_token.span, "`#[scoped]` requires an `async fn`"),
            );
        }
        if let syn::Safety::Unsafe(unsafety) = &func.sig.safety {
            push_error(
                &mut errors,
                syn::Error::new(
                    unsafety.span,
                    "`#[scoped]` cannot be used on an `unsafe fn`; axum handlers are safe functions",
                ),
            );
        }
        let mut scope_param = None;
        for (index, arg) in func.sig.inputs.iter().enumerate() {
            match arg {
                FnArg::Receiver(receiver) => push_error(
                    &mut errors,
                    syn::Error::new_spanned(
                        receiver,
                        "`#[scoped]` cannot be used on methods (found `self`); it is for free-standing axum handlers",
                    ),
                ),
                FnArg::Typed(param) if is_scope(&param.ty) => {
                    if scope_param.is_some() {
                        push_error(
                            &mut errors,
                            syn::Error::new_spanned(
                                param,
                                "`#[scoped]` found a second `Scope` parameter; declare at most one",
                            ),
                        );
                    } else {
                        scope_param = Some(index);
                    }
                }
                FnArg::Typed(_) => {}
            }
        }
        if let Some(variadic) = &func.sig.variadic {
            push_error(
                &mut errors,
                syn::Error::new_spanned(
                    variadic,
                    "`#[scoped]` cannot be used on a variadic function",
                ),
            );
        }
        if scope_param.is_none() && func.sig.inputs.len() >= AXUM_MAX_ARGS {
            push_error(
                &mut errors,
                syn::Error::new(
                    func.sig.paren_token.span.join(),
                    format!(
                        "`#[scoped]` adds a `Scope` parameter, but this handler already has {} arguments and axum handlers take at most {AXUM_MAX_ARGS}; remove one or declare `scope: Scope` yourself",
                        func.sig.inputs.len()
                    ),
                ),
            );
        }
        finish(ScopedFn { func, scope_param }, errors)
    }
}

/// Whether `ty` names a `Scope` (its last path segment is `Scope`).
fn is_scope(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => {
            path.qself.is_none()
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|segment| segment.ident == "Scope")
        }
        Type::Paren(paren) => is_scope(&paren.elem),
        Type::Group(group) => is_scope(&group.elem),
        _ => false,
    }
}

/// The span of the keyword that says what kind of item `item` is.
fn item_keyword_span(item: &Item) -> Span {
    match item {
        Item::Const(item) => item.const_token.span,
        Item::Enum(item) => item.enum_token.span,
        Item::ExternCrate(item) => item.extern_token.span,
        Item::ForeignMod(item) => item.abi.extern_token.span,
        Item::Impl(item) => item.impl_token.span,
        Item::Mod(item) => item.mod_token.span,
        Item::Static(item) => item.static_token.span,
        Item::Struct(item) => item.struct_token.span,
        Item::Trait(item) => item.trait_token.span,
        Item::TraitAlias(item) => item.trait_token.span,
        Item::Type(item) => item.type_token.span,
        Item::Union(item) => item.union_token.span,
        Item::Use(item) => item.use_token.span,
        other => other.span(),
    }
}

// ---------------------------------------------------------------------------
// scope_spawn!(…) and friends
// ---------------------------------------------------------------------------

/// One comma-separated argument of a spawn macro, before it is given a role.
pub(crate) enum SpawnArg {
    /// `name = expr`
    Name { key: kw::name, value: Expr },
    /// Any expression, including a string literal.
    Expr(Expr),
}

impl Parse for SpawnArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(kw::name) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let key = input.parse()?;
            input.parse::<Token![=]>()?;
            let value = input.parse()?;
            return Ok(SpawnArg::Name { key, value });
        }
        input.parse().map(SpawnArg::Expr)
    }
}

/// The comma-separated arguments of a spawn macro, before they are given roles.
pub(crate) struct RawSpawnArgs(pub(crate) Punctuated<SpawnArg, Token![,]>);

impl Parse for RawSpawnArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Punctuated::parse_terminated(input).map(RawSpawnArgs)
    }
}

/// The arguments of `scope_spawn!([target,] ["name" | name = expr,] fut)`.
pub(crate) struct SpawnArgs {
    /// Where to spawn (`&scope`, `&guard`, `&mut set`); the current scope if `None`.
    pub(crate) target: Option<Expr>,
    /// The task's name.
    pub(crate) name: Option<Expr>,
    /// The future (or, for the blocking forms, the closure) to spawn.
    pub(crate) task: Expr,
}

impl SpawnArgs {
    /// Gives each argument its role; `macro_name` is used in error messages.
    pub(crate) fn from_raw(raw: RawSpawnArgs, macro_name: &str) -> syn::Result<Self> {
        let usage = || format!("expected `{macro_name}!([target,] [\"name\" | name = expr,] fut)`");
        let mut args: Vec<SpawnArg> = raw.0.into_iter().collect();
        let Some(task) = args.pop() else {
            return Err(syn::Error::new(
                Span::call_site(),
                format!(
                    "`{macro_name}!` needs a future to spawn: `{macro_name}!(fut)`, `{macro_name}!(\"name\", fut)` or `{macro_name}!(target, fut)`"
                ),
            ));
        };
        let task = match task {
            SpawnArg::Expr(expr) if string_literal(&expr).is_none() => expr,
            SpawnArg::Expr(name) => {
                return Err(syn::Error::new_spanned(
                    name,
                    format!(
                        "`{macro_name}!` needs a future to spawn after the task name: `{macro_name}!(\"name\", fut)`"
                    ),
                ));
            }
            SpawnArg::Name { key, value } => {
                return Err(syn::Error::new_spanned(
                    quote::quote!(#key = #value),
                    format!(
                        "`{macro_name}!` needs a future to spawn after the task name: `{macro_name}!(name = expr, fut)`"
                    ),
                ));
            }
        };
        let mut target = None;
        let mut name = None;
        for arg in args {
            let extra = |arg: &dyn quote::ToTokens| {
                syn::Error::new_spanned(
                    arg,
                    format!("too many arguments to `{macro_name}!`; {}", usage()),
                )
            };
            match arg {
                SpawnArg::Name { key, value } => {
                    if name.is_some() {
                        return Err(extra(&quote::quote!(#key = #value)));
                    }
                    name = Some(value);
                }
                SpawnArg::Expr(expr) => {
                    if string_literal(&expr).is_some() {
                        if name.is_some() {
                            return Err(extra(&expr));
                        }
                        name = Some(expr);
                    } else if let Expr::Lit(lit) = &expr {
                        return Err(syn::Error::new_spanned(
                            lit,
                            format!(
                                "`{macro_name}!` expects a task name as a string literal here (use `name = expr` for a computed name)"
                            ),
                        ));
                    } else {
                        if target.is_some() || name.is_some() {
                            return Err(extra(&expr));
                        }
                        target = Some(expr);
                    }
                }
            }
        }
        Ok(SpawnArgs { target, name, task })
    }
}

/// The string literal `expr` is, if it is one.
fn string_literal(expr: &Expr) -> Option<&LitStr> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(lit) => Some(lit),
            _ => None,
        },
        Expr::Group(group) => string_literal(&group.expr),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// scope_drain!(set[, max = n])
// ---------------------------------------------------------------------------

/// The arguments of `scope_drain!(set)` / `scope_drain!(set, max = n)`.
pub(crate) struct DrainArgs {
    /// The `JoinSet` to drain.
    pub(crate) set: Expr,
    /// How many tasks to drain at most.
    pub(crate) max: Option<Expr>,
}

impl Parse for DrainArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "`scope_drain!` needs a `JoinSet` to drain: `scope_drain!(set)` or `scope_drain!(set, max = n)`",
            ));
        }
        let set = input.parse()?;
        let mut max = None;
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            if input.peek(kw::max) && input.peek2(Token![=]) {
                let key = input.parse::<kw::max>()?;
                input.parse::<Token![=]>()?;
                let value: Expr = input.parse()?;
                if max.is_some() {
                    return Err(syn::Error::new(
                        key.span,
                        "`max` specified more than once in `scope_drain!`",
                    ));
                }
                max = Some(value);
            } else if input.peek(Ident::peek_any) && input.peek2(Token![=]) {
                let key = input.call(Ident::parse_any)?;
                return Err(syn::Error::new(
                    key.span(),
                    format!(
                        "unknown `scope_drain!` option `{}`; expected `max = n`",
                        key.unraw()
                    ),
                ));
            } else {
                let extra: Expr = input.parse()?;
                return Err(syn::Error::new_spanned(
                    extra,
                    "unexpected argument to `scope_drain!`; expected `scope_drain!(set)` or `scope_drain!(set, max = n)`",
                ));
            }
        }
        Ok(DrainArgs { set, max })
    }
}

#[cfg(test)]
mod tests {
    use super::{DrainArgs, RawSpawnArgs, ScopedArgs, ScopedFn, SpawnArgs};
    use syn::parse_str;

    fn scoped_err(args: &str) -> String {
        match parse_str::<ScopedArgs>(args) {
            Ok(_) => panic!("`{args}` parsed"),
            Err(e) => e.to_string(),
        }
    }

    fn spawn_err(args: &str) -> String {
        match parse_str::<RawSpawnArgs>(args)
            .and_then(|raw| SpawnArgs::from_raw(raw, "scope_spawn"))
        {
            Ok(_) => panic!("`{args}` parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn scoped_accepts_every_option() {
        let args = parse_str::<ScopedArgs>(
            r#"name = "get_user", timeout = "2s", limit = 8, policy = fail_fast,"#,
        )
        .unwrap();
        assert!(args.name.is_some() && args.timeout.is_some());
        assert!(args.limit.is_some() && args.policy.is_some());
        assert!(parse_str::<ScopedArgs>("").is_ok());
        assert!(parse_str::<ScopedArgs>("timeout = Duration::from_secs(2)").is_ok());
        assert!(parse_str::<ScopedArgs>("policy = Policy::CollectAll").is_ok());
    }

    #[test]
    fn scoped_reports_every_bad_option() {
        let error = scoped_err(r#"foo = 1, timeout = "abc", limit = 0, policy = nope"#);
        assert!(
            error.contains("unknown `#[scoped]` option `foo`"),
            "{error}"
        );
        let errors =
            parse_str::<ScopedArgs>(r#"foo = 1, timeout = "abc", limit = 0, policy = nope"#)
                .err()
                .unwrap();
        assert_eq!(errors.into_iter().count(), 4);
    }

    #[test]
    fn scoped_rejects_duplicates_and_missing_values() {
        assert_eq!(
            scoped_err(r#"timeout = "1s", timeout = "2s""#),
            "`timeout` specified more than once in `#[scoped]`"
        );
        assert!(scoped_err("timeout").contains("needs a value"));
        assert!(scoped_err(r#"timeout = "0s""#).contains("greater than zero"));
        assert!(scoped_err("timeout = 5").contains("needs a unit"));
        assert!(scoped_err(r#"limit = "8""#).contains("must be an integer"));
        assert!(scoped_err(r#"name = "a" limit = 1"#).contains("expected `,`"));
    }

    #[test]
    fn scoped_fn_checks_the_signature() {
        assert!(parse_str::<ScopedFn>("async fn f() {}").is_ok());
        let not_async = parse_str::<ScopedFn>("fn f() {}").err().unwrap();
        assert_eq!(not_async.to_string(), "`#[scoped]` requires an `async fn`");
        let method = parse_str::<ScopedFn>("fn f(&self) {}").err().unwrap();
        assert_eq!(method.into_iter().count(), 2);
        let two = parse_str::<ScopedFn>("async fn f(a: Scope, b: scope_spawn::Scope) {}");
        assert!(two.err().unwrap().to_string().contains("second `Scope`"));
        let scope = parse_str::<ScopedFn>("async fn f(x: u8, s: scope_spawn::Scope) {}").unwrap();
        assert_eq!(scope.scope_param, Some(1));
        assert!(parse_str::<ScopedFn>("struct S;").is_err());
        assert!(parse_str::<ScopedFn>("async unsafe fn f() {}").is_err());
    }

    #[test]
    fn spawn_args_take_their_roles() {
        let forms = [
            ("fut", false, false),
            (r#""name", fut"#, false, true),
            ("name = n, fut", false, true),
            ("&scope, fut", true, false),
            (r#"&scope, "name", fut,"#, true, true),
            ("&mut set, name = format!(\"x\"), fut", true, true),
        ];
        for (args, target, name) in forms {
            let raw = parse_str::<RawSpawnArgs>(args).unwrap();
            let parsed = SpawnArgs::from_raw(raw, "scope_spawn").unwrap();
            assert_eq!(parsed.target.is_some(), target, "{args}");
            assert_eq!(parsed.name.is_some(), name, "{args}");
        }
    }

    #[test]
    fn spawn_args_reject_bad_shapes() {
        assert!(spawn_err("").contains("needs a future to spawn"));
        assert!(spawn_err("42, fut").contains("expects a task name as a string literal"));
        assert!(spawn_err("a, b, c, d").starts_with("too many arguments to `scope_spawn!`"));
        assert!(spawn_err(r#""name", &scope, fut"#).starts_with("too many arguments"));
        assert!(spawn_err(r#"&scope, "name""#).contains("after the task name"));
    }

    #[test]
    fn drain_args() {
        assert!(parse_str::<DrainArgs>("set").unwrap().max.is_none());
        assert!(
            parse_str::<DrainArgs>("&mut set, max = 3,")
                .unwrap()
                .max
                .is_some()
        );
        let error = parse_str::<DrainArgs>("set, foo = 3").err().unwrap();
        assert_eq!(
            error.to_string(),
            "unknown `scope_drain!` option `foo`; expected `max = n`"
        );
        assert!(parse_str::<DrainArgs>("").is_err());
        assert!(parse_str::<DrainArgs>("set, max = 1, max = 2").is_err());
    }
}
