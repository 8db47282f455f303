//! The std types that decode through their own `FromStr`, listed once: the runtime implements
//! `SecretValue` for each (keeping their parse messages), and the derive checks a
//! `default = "..."` literal of a primitive among them at compile time.

/// Calls `$callback!` with the std types that decode through `FromStr` and whose parse errors
/// are fixed texts that never repeat the input, so that their messages may be shown:
///
/// ```text
/// $callback! {
///     primitives: [u8, ..., char],        // each named by one keyword
///     others: [::std::string::String, ...], // each named by its path
/// }
/// ```
///
/// (`String` and `PathBuf` never fail to parse.) A type added here gets a `SecretValue` impl
/// whose messages are shown: check its `FromStr` errors first.
macro_rules! std_from_str_types {
    ($callback:ident) => {
        $callback! {
            primitives: [
                u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64, bool,
                char,
            ],
            others: [
                ::std::string::String,
                ::std::path::PathBuf,
                ::std::net::IpAddr,
                ::std::net::Ipv4Addr,
                ::std::net::Ipv6Addr,
                ::std::net::SocketAddr,
                ::std::net::SocketAddrV4,
                ::std::net::SocketAddrV6,
            ],
        }
    };
}

pub(crate) use std_from_str_types;
