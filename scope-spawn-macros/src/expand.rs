//! Code generation. Generated code reaches the runtime only through
//! `::scope_spawn::__private::…` paths; hidden bindings start with `__scope_spawn_`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{AttrStyle, Expr, FnArg, GenericParam, Ident, PatIdent, PatType, Token};

use crate::duration::Unit;
use crate::parse::{
    self, DrainArgs, PolicyArg, RawSpawnArgs, ScopedArgs, ScopedFn, SpawnArgs, TimeoutArg,
};

// ---------------------------------------------------------------------------
// #[scoped]
// ---------------------------------------------------------------------------

/// Expands `#[scoped(args)] item`. Argument and signature errors are reported
/// together.
pub(crate) fn scoped(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let (args, func) = parse::both(
        syn::parse2::<ScopedArgs>(args),
        syn::parse2::<ScopedFn>(item),
    )?;
    Ok(scoped_fn(&args, func))
}

/// The original item followed by `error`, so that one mistake in the attribute
/// does not also break every use of the function.
pub(crate) fn item_with_error(item: TokenStream, error: syn::Error) -> TokenStream {
    let mut tokens = item;
    tokens.extend(error.into_compile_error());
    tokens
}

fn scoped_fn(args: &ScopedArgs, scoped: ScopedFn) -> TokenStream {
    let ScopedFn { func, scope_param } = scoped;
    // Hidden bindings are hygienic (`mixed_site`): the option expressions, which
    // are the user's code, cannot see them, nor the parameters, so a parameter
    // named like something an option uses does not shadow it.
    let hidden = |name: &str| Ident::new(name, Span::mixed_site());
    let run = hidden("__scope_spawn_run");
    let scope = hidden("__scope_spawn_scope");
    let inner_name = Ident::new("__scope_spawn_inner", Span::call_site());
    // The scope's extractor: from the whole request when it is the last
    // argument (axum has taken the request apart and put it back for it; a
    // parts extractor there would take it apart again), else from the parts.
    let arity = func.sig.inputs.len() + usize::from(scope_param.is_none());
    let scope_position = scope_param.unwrap_or(0);
    let handler_scope = if scope_position + 1 == arity {
        quote!(::scope_spawn::__private::HandlerScope<::scope_spawn::__private::ViaRequest>)
    } else {
        quote!(::scope_spawn::__private::HandlerScope)
    };

    // The outer signature: the user's parameters, each bound to a plain name
    // (its own, if it is one, so attributes below such as
    // `#[tracing::instrument]` see the names as written), and the `Scope`
    // parameter, or an injected first one, as the extractor.
    let mut outer_inputs = Punctuated::<FnArg, Token![,]>::new();
    let mut call_args = Vec::new();
    let mut request = hidden("__scope_spawn_request");
    if scope_param.is_none() {
        outer_inputs.push(syn::parse_quote!(#request: #handler_scope));
    }
    for (index, input) in func.sig.inputs.iter().enumerate() {
        let FnArg::Typed(param) = input else {
            // Receivers were rejected by `ScopedFn::parse`.
            continue;
        };
        let mut binding = match &*param.pat {
            syn::Pat::Ident(PatIdent {
                by_ref: None,
                subpat: None,
                ident,
                ..
            }) => ident.clone(),
            _ => format_ident!("__scope_spawn_arg{}", index),
        };
        binding.set_span(Span::mixed_site());
        let ty = if scope_param == Some(index) {
            call_args.push(scope.clone());
            request = binding.clone();
            syn::parse_quote_spanned!(param.ty.span()=> #handler_scope)
        } else {
            call_args.push(binding.clone());
            (*param.ty).clone()
        };
        outer_inputs.push(FnArg::Typed(PatType {
            attrs: param.attrs.clone(),
            pat: Box::new(syn::Pat::Ident(PatIdent {
                attrs: Vec::new(),
                by_ref: None,
                mutability: None,
                ident: binding,
                subpat: None,
            })),
            colon_token: param.colon_token,
            ty: Box::new(ty),
        }));
    }

    let mut outer_sig = func.sig.clone();
    outer_sig.inputs = outer_inputs;
    let outer_attrs = func
        .attrs
        .iter()
        .filter(|attr| matches!(attr.style, AttrStyle::Outer));
    let vis = &func.vis;

    // The inner function: the user's function as written, renamed, private, with
    // only its inner attributes (`#![…]`).
    let mut inner = func.clone();
    inner
        .attrs
        .retain(|attr| matches!(attr.style, AttrStyle::Inner(_)));
    inner.vis = syn::Visibility::Inherited;
    inner.sig.ident = inner_name.clone();
    // The handler passed to the router is not linted for a body without
    // `.await` (it must be async to be a handler); neither is its body here.
    inner
        .attrs
        .insert(0, syn::parse_quote!(#[allow(clippy::unused_async)]));

    let generic_args: Vec<&Ident> = func
        .sig
        .generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(param) => Some(&param.ident),
            GenericParam::Const(param) => Some(&param.ident),
            GenericParam::Lifetime(_) => None,
        })
        .collect();
    let turbofish = if generic_args.is_empty() {
        TokenStream::new()
    } else {
        quote!(::<#(#generic_args),*>)
    };

    let options = handler_options(args, &func.sig.ident);
    let bind_scope = scope_param.map(|_| quote!(let #scope = #run.scope();));

    quote! {
        #(#outer_attrs)*
        #vis #outer_sig {
            #inner
            let #run = #request.enter(#options);
            #bind_scope
            #run.run(#inner_name #turbofish (#(#call_args),*)).await
        }
    }
}

/// `HandlerOptions::new("fn_name")` followed by one call per given option.
fn handler_options(args: &ScopedArgs, fn_name: &Ident) -> TokenStream {
    let default_name = fn_name.unraw().to_string();
    let mut options = quote!(::scope_spawn::__private::HandlerOptions::new(#default_name));
    if let Some(name) = &args.name {
        options = quote_spanned!(name.span()=> #options.name(#name));
    }
    if let Some(timeout) = &args.timeout {
        let duration = match timeout {
            TimeoutArg::Literal(duration) => {
                let constructor = match duration.unit {
                    Unit::Nanos => "from_nanos",
                    Unit::Micros => "from_micros",
                    Unit::Millis => "from_millis",
                    Unit::Secs => "from_secs",
                };
                // Checked here, so it cannot fail to compile: spanned at the
                // macro, so that lints about how to write a `Duration` (which
                // are about the user's code) do not fire on generated code.
                let constructor = Ident::new(constructor, Span::call_site());
                let amount = Literal::u64_suffixed(duration.amount);
                quote!(::core::time::Duration::#constructor(#amount))
            }
            TimeoutArg::Expr(expr) => expr.to_token_stream(),
        };
        options = quote_spanned!(duration.span()=> #options.timeout(#duration));
    }
    if let Some(limit) = &args.limit {
        options = quote_spanned!(limit.span()=> #options.limit(#limit));
    }
    if let Some(policy) = &args.policy {
        let policy = match policy {
            PolicyArg::Named { ident, policy } => {
                let variant = Ident::new(policy.variant(), ident.span());
                quote_spanned!(ident.span()=> ::scope_spawn::__private::Policy::#variant)
            }
            PolicyArg::Expr(expr) => expr.to_token_stream(),
        };
        options = quote_spanned!(policy.span()=> #options.policy(#policy));
    }
    options
}

// ---------------------------------------------------------------------------
// scope_spawn! family
// ---------------------------------------------------------------------------

/// Which of the spawn macros is being expanded.
#[derive(Clone, Copy)]
pub(crate) enum SpawnKind {
    /// `scope_spawn!`
    Spawn,
    /// `scope_spawn_guarded!`
    Guarded,
    /// `scope_spawn_blocking!`
    Blocking,
    /// `scope_spawn_blocking_nocontext!`
    BlockingNoContext,
}

impl SpawnKind {
    fn macro_name(self) -> &'static str {
        match self {
            SpawnKind::Spawn => "scope_spawn",
            SpawnKind::Guarded => "scope_spawn_guarded",
            SpawnKind::Blocking => "scope_spawn_blocking",
            SpawnKind::BlockingNoContext => "scope_spawn_blocking_nocontext",
        }
    }
}

/// Expands one of the `scope_spawn!` family.
pub(crate) fn spawn(input: TokenStream, kind: SpawnKind) -> syn::Result<TokenStream> {
    let raw = syn::parse2::<RawSpawnArgs>(input)?;
    let SpawnArgs { target, name, task } = SpawnArgs::from_raw(raw, kind.macro_name())?;

    let target = match target {
        Some(target) => target.into_token_stream(),
        None => quote!(::scope_spawn::__private::Current),
    };
    let mut options = quote!(::scope_spawn::__private::TaskOptions::new());
    if let Some(name) = name {
        options = quote_spanned!(name.span()=> #options.name(#name));
    }
    let function = match kind {
        SpawnKind::Spawn => quote!(spawn),
        SpawnKind::Guarded => {
            options = quote!(#options.guarded());
            quote!(spawn)
        }
        SpawnKind::Blocking => quote!(spawn_blocking),
        SpawnKind::BlockingNoContext => {
            options = quote!(#options.no_context());
            quote!(spawn_blocking)
        }
    };
    Ok(quote_spanned! {task.span()=>
        ::scope_spawn::__private::#function(#target, #options, #task)
    })
}

/// Expands `scope_drain!(set[, max = n])`.
pub(crate) fn drain(input: TokenStream) -> syn::Result<TokenStream> {
    let DrainArgs { set, max } = syn::parse2(input)?;
    let span = set.span();
    let set = match &set {
        Expr::Reference(reference) if reference.mutability.is_some() => set.into_token_stream(),
        Expr::Path(_) | Expr::Field(_) | Expr::Index(_) | Expr::Paren(_) => {
            quote_spanned!(span=> &mut #set)
        }
        _ => quote_spanned!(span=> &mut (#set)),
    };
    let max = match max {
        Some(max) => quote_spanned!(max.span()=> ::core::option::Option::Some(#max)),
        None => quote!(::core::option::Option::None),
    };
    Ok(quote_spanned!(span=> ::scope_spawn::__private::drain(#set, #max).await))
}

#[cfg(test)]
mod tests {
    use super::{SpawnKind, ToTokens, drain, scoped, spawn};
    use proc_macro2::TokenStream;
    use syn::{Expr, ItemFn};

    fn tokens(text: &str) -> TokenStream {
        text.parse().unwrap()
    }

    /// Prints `tokens` as syn prints `T`, so that spacing does not matter.
    fn normalise<T: syn::parse::Parse + ToTokens>(tokens: TokenStream) -> String {
        syn::parse2::<T>(tokens)
            .unwrap()
            .into_token_stream()
            .to_string()
    }

    #[test]
    fn scoped_injects_the_extractor_and_keeps_the_signature() {
        let out = scoped(
            tokens(""),
            tokens(
                "/// Docs.\n#[allow(unused)] pub async fn get_user<'a, T: Clone, const N: usize>(Path(id): Path<u32>, x: T) -> impl IntoResponse where T: Send { body(id, x)?; }",
            ),
        )
        .unwrap();
        let expected = tokens(
            r#"
            /// Docs.
            #[allow(unused)]
            pub async fn get_user<'a, T: Clone, const N: usize>(
                __scope_spawn_request: ::scope_spawn::__private::HandlerScope,
                __scope_spawn_arg0: Path<u32>,
                x: T
            ) -> impl IntoResponse where T: Send {
                #[allow(clippy::unused_async)]
                async fn __scope_spawn_inner<'a, T: Clone, const N: usize>(Path(id): Path<u32>, x: T) -> impl IntoResponse where T: Send { body(id, x)?; }
                let __scope_spawn_run = __scope_spawn_request.enter(::scope_spawn::__private::HandlerOptions::new("get_user"));
                __scope_spawn_run.run(__scope_spawn_inner::<T, N>(__scope_spawn_arg0, x)).await
            }
            "#,
        );
        assert_eq!(normalise::<ItemFn>(out), normalise::<ItemFn>(expected));
    }

    #[test]
    fn scoped_passes_the_scope_in_the_declared_position() {
        let out = scoped(
            tokens(r#"name = "users", timeout = "2m", limit = 8, policy = fail_fast"#),
            tokens("async fn h(a: A, scope: Scope) {}"),
        )
        .unwrap();
        let expected = tokens(
            r#"
            async fn h(a: A, scope: ::scope_spawn::__private::HandlerScope<::scope_spawn::__private::ViaRequest>) {
                #[allow(clippy::unused_async)]
                async fn __scope_spawn_inner(a: A, scope: Scope) {}
                let __scope_spawn_run = scope.enter(
                    ::scope_spawn::__private::HandlerOptions::new("h")
                        .name("users")
                        .timeout(::core::time::Duration::from_secs(120u64))
                        .limit(8)
                        .policy(::scope_spawn::__private::Policy::FailFast)
                );
                let __scope_spawn_scope = __scope_spawn_run.scope();
                __scope_spawn_run.run(__scope_spawn_inner(a, __scope_spawn_scope)).await
            }
            "#,
        );
        assert_eq!(normalise::<ItemFn>(out), normalise::<ItemFn>(expected));
    }

    #[test]
    fn scoped_extracts_a_last_scope_from_the_whole_request() {
        // Injected as the only argument, or declared last: `ViaRequest`.
        let only = scoped(tokens(""), tokens("async fn h() {}")).unwrap();
        let expected = tokens(
            r#"
            async fn h(__scope_spawn_request: ::scope_spawn::__private::HandlerScope<::scope_spawn::__private::ViaRequest>) {
                #[allow(clippy::unused_async)]
                async fn __scope_spawn_inner() {}
                let __scope_spawn_run = __scope_spawn_request.enter(::scope_spawn::__private::HandlerOptions::new("h"));
                __scope_spawn_run.run(__scope_spawn_inner()).await
            }
            "#,
        );
        assert_eq!(normalise::<ItemFn>(only), normalise::<ItemFn>(expected));

        // Declared before another argument: from the parts.
        let first = scoped(tokens(""), tokens("async fn h(scope: Scope, a: A) {}")).unwrap();
        let first = normalise::<ItemFn>(first);
        assert!(
            first.starts_with(
                "async fn h (scope : :: scope_spawn :: __private :: HandlerScope , a : A)"
            ),
            "{first}"
        );
    }

    #[test]
    fn spawn_forms() {
        let cases = [
            (
                SpawnKind::Spawn,
                "fut",
                "::scope_spawn::__private::spawn(::scope_spawn::__private::Current, ::scope_spawn::__private::TaskOptions::new(), fut)",
            ),
            (
                SpawnKind::Guarded,
                r#"&guard, "n", fut"#,
                r#"::scope_spawn::__private::spawn(&guard, ::scope_spawn::__private::TaskOptions::new().name("n").guarded(), fut)"#,
            ),
            (
                SpawnKind::Blocking,
                "&mut set, name = n, || 1",
                "::scope_spawn::__private::spawn_blocking(&mut set, ::scope_spawn::__private::TaskOptions::new().name(n), || 1)",
            ),
            (
                SpawnKind::BlockingNoContext,
                "|| 1",
                "::scope_spawn::__private::spawn_blocking(::scope_spawn::__private::Current, ::scope_spawn::__private::TaskOptions::new().no_context(), || 1)",
            ),
        ];
        for (kind, input, expected) in cases {
            let out = spawn(tokens(input), kind).unwrap();
            assert_eq!(
                normalise::<Expr>(out),
                normalise::<Expr>(tokens(expected)),
                "{input}"
            );
        }
    }

    #[test]
    fn drain_forms() {
        let cases = [
            (
                "set",
                "::scope_spawn::__private::drain(&mut set, ::core::option::Option::None).await",
            ),
            (
                "&mut set, max = 3",
                "::scope_spawn::__private::drain(&mut set, ::core::option::Option::Some(3)).await",
            ),
            (
                "*boxed",
                "::scope_spawn::__private::drain(&mut (*boxed), ::core::option::Option::None).await",
            ),
        ];
        for (input, expected) in cases {
            let out = drain(tokens(input)).unwrap();
            assert_eq!(
                normalise::<Expr>(out),
                normalise::<Expr>(tokens(expected)),
                "{input}"
            );
        }
    }
}
