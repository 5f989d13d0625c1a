//! A scope's name: a `Cow<'static, str>`, or — for names made per request,
//! such as `"GET /users/7"` — a short string stored inline, without an
//! allocation of its own.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::ops::Deref;

/// The longest name stored inline.
const INLINE: usize = 38;

#[derive(Clone)]
pub(crate) enum ScopeName {
    Cow(Cow<'static, str>),
    Inline { len: u8, bytes: [u8; INLINE] },
}

impl ScopeName {
    /// Formats a name, inline when it is short enough.
    pub(crate) fn format(args: fmt::Arguments<'_>) -> Self {
        if let Some(name) = args.as_str() {
            return ScopeName::Cow(Cow::Borrowed(name));
        }
        let mut name = ScopeName::blank();
        if name
            .in_place()
            .is_some_and(|mut bytes| bytes.write_fmt(args).is_ok())
        {
            return name;
        }
        ScopeName::Cow(Cow::Owned(fmt::format(args)))
    }

    /// Joins `parts`, inline when the result is short enough; cheaper than
    /// formatting.
    pub(crate) fn concat(parts: &[&str]) -> Self {
        let mut name = ScopeName::blank();
        name.join_in_place(parts);
        name
    }

    /// An empty name, inline: for [`join_in_place`](Self::join_in_place).
    pub(crate) const fn blank() -> Self {
        ScopeName::Inline {
            len: 0,
            bytes: [0; INLINE],
        }
    }

    /// A name that stands in for one joined in place (see
    /// [`Scope::build`](crate::Scope)): cheap to write, never read.
    pub(crate) const fn placeholder() -> Self {
        ScopeName::Cow(Cow::Borrowed(""))
    }

    /// Makes a [`blank`](Self::blank) name the join of `parts`, writing the
    /// bytes where the name is (inline when they fit). A per-request name is
    /// written this way into its scope's allocation, never to be moved: wide
    /// moves of bytes just written piece by piece would wait for those
    /// writes to reach the cache (a failed store-to-load forward), which cost
    /// more than the whole join.
    pub(crate) fn join_in_place(&mut self, parts: &[&str]) {
        let joined = self
            .in_place()
            .is_some_and(|mut bytes| parts.iter().all(|part| bytes.write_str(part).is_ok()));
        if !joined {
            *self = ScopeName::Cow(Cow::Owned(parts.concat()));
        }
    }

    /// A writer appending to an inline name where it is.
    fn in_place(&mut self) -> Option<InPlace<'_>> {
        match self {
            ScopeName::Inline { len, bytes } => Some(InPlace { len, bytes }),
            ScopeName::Cow(_) => None,
        }
    }
}

impl From<Cow<'static, str>> for ScopeName {
    fn from(name: Cow<'static, str>) -> Self {
        ScopeName::Cow(name)
    }
}

impl Deref for ScopeName {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            ScopeName::Cow(name) => name,
            // Only whole `&str`s are ever written into `bytes` (see `InPlace`).
            ScopeName::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
        }
    }
}

impl fmt::Debug for ScopeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for ScopeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

/// An inline name's bytes, taking whole strings until they are full.
struct InPlace<'a> {
    len: &'a mut u8,
    bytes: &'a mut [u8; INLINE],
}

impl fmt::Write for InPlace<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let start = usize::from(*self.len);
        let end = start + s.len();
        let slot = self.bytes.get_mut(start..end).ok_or(fmt::Error)?;
        copy_short(slot, s.as_bytes());
        // `end <= INLINE < 256`.
        *self.len = end as u8;
        Ok(())
    }
}

/// `dst.copy_from_slice(src)` for the short pieces of an inline name (a
/// method, a space, a path), without a call to `memcpy`: two copies of a fixed
/// size that overlap in the middle, which the compiler turns into a few moves.
/// A name is made per request, and each such call costs more than the copy.
#[inline]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    debug_assert_eq!(dst.len(), src.len());
    fn two<const N: usize>(dst: &mut [u8], src: &[u8]) {
        let n = src.len();
        dst[..N].copy_from_slice(&src[..N]);
        dst[n - N..].copy_from_slice(&src[n - N..]);
    }
    match src.len() {
        0 => {}
        1 => dst[0] = src[0],
        2..4 => {
            let n = src.len();
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
        4..8 => two::<4>(dst, src),
        8..16 => two::<8>(dst, src),
        16..32 => two::<16>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_formatted_names_are_inline_and_long_ones_allocated() {
        // Not literals, which `format_args!` would fold into one `&'static str`.
        let (method, path) = (String::from("GET"), String::from("/users/7"));
        let short = ScopeName::format(format_args!("{method} {path}"));
        assert!(matches!(short, ScopeName::Inline { .. }));
        assert_eq!(&*short, "GET /users/7");

        let path = String::from("/a/rather/long/path/that/does/not/fit/inline");
        let long = ScopeName::format(format_args!("{method} {path}"));
        assert!(matches!(long, ScopeName::Cow(Cow::Owned(_))));
        assert_eq!(&*long, format!("GET {path}"));

        let joined = ScopeName::concat(&[&method, " ", "/users/7"]);
        assert!(matches!(joined, ScopeName::Inline { .. }));
        assert_eq!(&*joined, "GET /users/7");
        let long = ScopeName::concat(&[&method, " ", &path]);
        assert_eq!(&*long, format!("GET {path}"));

        for len in 0..=INLINE {
            let piece: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let joined = ScopeName::concat(&["<", &piece, ">"]);
            assert_eq!(&*joined, format!("<{piece}>"), "a piece of {len} bytes");
            assert_eq!(
                matches!(joined, ScopeName::Inline { .. }),
                len + 2 <= INLINE,
                "a piece of {len} bytes: inline as long as the name fits"
            );
        }

        let exact = "x".repeat(INLINE);
        assert_eq!(&*ScopeName::format(format_args!("{exact}")), exact);
        let literal = ScopeName::format(format_args!("static"));
        assert!(matches!(literal, ScopeName::Cow(Cow::Borrowed("static"))));
    }
}
