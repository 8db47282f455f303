//! Field types that come through a `macro_rules!` `$t:ty` arrive wrapped in an invisible group:
//! `Option`, `Vec<u8>` and `SecretSlice<u8>` for `binary` and the primitives of a checked
//! `default` literal are still recognised.

use secrets_runtime::FromSecret;

macro_rules! config {
    ($name:ident { $($field:ident: $ty:ty $(= $attr:tt)?),* $(,)? }) => {
        #[derive(FromSecret)]
        #[secret(name = "app")]
        struct $name {
            $($(#[secret $attr])? $field: $ty,)*
        }
    };
}

config!(Generated {
    host: String,
    replicas: Option<u32>,
    port: u16 = (default = "5432"),
});

macro_rules! binary {
    ($ty:ty) => {
        #[derive(FromSecret)]
        struct Der {
            #[secret(from = "cert", binary)]
            der: $ty,
        }
    };
}

binary!(Vec<u8>);

mod zeroized {
    use secrets_runtime::{FromSecret, SecretSlice};

    binary!(SecretSlice<u8>);

    pub(crate) fn len() -> Option<usize> {
        use secrets_runtime::ExposeSecret as _;
        Der::try_get().map(|d| d.der.expose_secret().len())
    }
}

fn main() {
    let _ = zeroized::len();
    let _ = Generated::try_get().map(|g| (g.host.len(), g.replicas, g.port));
    let _ = Der::try_get().map(|d| d.der.len());
}
