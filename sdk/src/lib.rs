//! # RunProof skill SDK
//!
//! A RunProof *skill* is a WebAssembly component (target `wasm32-wasip2`) that the
//! RunProof runtime loads, describes and invokes. This crate hides the component-model
//! plumbing: you implement the [`Skill`] trait with ordinary Rust types, call
//! [`export_skill!`] once, and build with `cargo build --target wasm32-wasip2 --release`.
//!
//! The contract with the runtime is the WIT world `runproof:skill/skill@0.1.0`
//! (shipped in this crate as `wit/skill.wit`):
//!
//! * `describe()` returns the skill's [`SkillInfo`]: name, version, description and the
//!   capabilities it asks for (outbound hosts, secrets, memory, timeout). The runtime
//!   grants the intersection of what the skill asks for and what the agent's policy allows.
//! * `invoke(input)` takes a JSON document and returns a JSON document or a [`SkillError`].
//!   The SDK deserializes the input into [`Skill::Input`] (a parse failure becomes the
//!   error code `invalid-input`) and serializes [`Skill::Output`].
//!
//! Everything a skill does to the outside world goes through the host, so that every step
//! is recorded: [`http`] requests are performed by the host (and checked against the
//! granted hosts), and [`log`] lines become trace steps.
//!
//! ## Example
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "my_skill"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! runproof-sdk = { path = "../sdk" }
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```no_run
//! use runproof_sdk::prelude::*;
//!
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Input {
//!     url: String,
//! }
//!
//! #[derive(Serialize)]
//! struct Output {
//!     status: u16,
//!     length: usize,
//! }
//!
//! struct MySkill;
//!
//! impl Skill for MySkill {
//!     type Input = Input;
//!     type Output = Output;
//!
//!     fn describe() -> SkillInfo {
//!         SkillInfo::new("my_skill", env!("CARGO_PKG_VERSION"), "Fetches a page and reports its size")
//!             .outbound_host("https://*.example.com")
//!             .timeout_ms(10_000)
//!     }
//!
//!     fn invoke(input: Input) -> Result<Output, SkillError> {
//!         log::info(format!("fetching {}", input.url));
//!         let response = http::Request::get(&input.url)
//!             .header("accept", "text/html")
//!             .timeout(std::time::Duration::from_secs(5))
//!             .send()?; // http::Error converts into SkillError (`http-denied`, `http-timeout`, ...)
//!         if response.status >= 400 {
//!             return Err(SkillError::new("http-status", format!("HTTP {}", response.status)));
//!         }
//!         Ok(Output { status: response.status, length: response.body.len() })
//!     }
//! }
//!
//! runproof_sdk::export_skill!(MySkill);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release`; the component is
//! `target/wasm32-wasip2/release/my_skill.wasm`.
//!
//! ## Notes
//!
//! * `#[derive(Serialize, Deserialize)]` expands to code that names the `serde` crate, so a
//!   skill crate should depend on `serde` (with the `derive` feature) itself. Alternatively
//!   use the re-export: `#[serde(crate = "runproof_sdk::serde")]`.
//! * A panic inside a skill traps the component; the runtime records it as a failed
//!   invocation. Prefer returning a [`SkillError`].
//! * The standard library works as usual on `wasm32-wasip2` (clocks, randomness,
//!   `println!`/`eprintln!`); the runtime decides what those WASI imports see.
//! * Compiled for a native target (e.g. by `cargo test`), the host imports are not
//!   available: [`log`] writes to stderr and [`http`] calls fail with
//!   [`http::Error::Other`]. This lets you unit-test a skill's pure logic natively; see
//!   [`testing`].

#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

// Lets the generated bindings (and `default_bindings_module`) name this crate as
// `runproof_sdk` from inside the crate too.
#[allow(unused_extern_crates)]
extern crate self as runproof_sdk;

mod error;
pub mod http;
mod info;
pub mod log;

pub use error::SkillError;
pub use info::SkillInfo;

/// Re-export of `serde`, for `#[serde(crate = "runproof_sdk::serde")]`.
pub use serde;
/// Re-export of `serde_json`, handy for `serde_json::Value` inputs and outputs.
pub use serde_json;

/// Everything a skill usually needs: `use runproof_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::http;
    pub use crate::log;
    pub use crate::{Skill, SkillError, SkillInfo};
    pub use serde::{Deserialize, Serialize};
}

/// A RunProof skill.
///
/// Implement this on a unit struct and export it with [`export_skill!`]. Both functions are
/// associated functions (no `self`): a component instance may be reused for several
/// invocations or created fresh for each one, so keep no state between calls.
pub trait Skill {
    /// The input document. Deserialized from the JSON the runtime passes to `invoke`;
    /// a document that does not parse is rejected with the error code `invalid-input`.
    /// Consider `#[serde(deny_unknown_fields)]` so that typos fail loudly.
    type Input: serde::de::DeserializeOwned;
    /// The output document, serialized to JSON.
    type Output: serde::Serialize;

    /// Name, version, description and requested capabilities.
    fn describe() -> SkillInfo;

    /// Runs the skill once.
    fn invoke(input: Self::Input) -> Result<Self::Output, SkillError>;
}

/// Exports a [`Skill`] implementation as the component's `describe` and `invoke` functions.
///
/// Invoke it exactly once per skill crate, at module level, with the type implementing
/// [`Skill`]:
///
/// ```no_run
/// # use runproof_sdk::prelude::*;
/// # struct MySkill;
/// # impl Skill for MySkill {
/// #     type Input = serde_json::Value;
/// #     type Output = serde_json::Value;
/// #     fn describe() -> SkillInfo { SkillInfo::new("my_skill", "0.1.0", "demo") }
/// #     fn invoke(input: Self::Input) -> Result<Self::Output, SkillError> { Ok(input) }
/// # }
/// runproof_sdk::export_skill!(MySkill);
/// # fn main() {}
/// ```
///
/// The type may be given as a path (`export_skill!(crate::skills::MySkill)`).
#[macro_export]
macro_rules! export_skill {
    ($skill:ty) => {
        const _: () = {
            // The generated export macro wants an identifier; the adapter translates between
            // the WIT-level `Guest` trait and the typed `Skill` trait.
            #[doc(hidden)]
            struct __RunproofSkillAdapter;

            impl $crate::bindings::Guest for __RunproofSkillAdapter {
                fn describe() -> $crate::bindings::SkillInfo {
                    $crate::__private::describe::<$skill>()
                }

                fn invoke(
                    input: ::std::string::String,
                ) -> ::std::result::Result<::std::string::String, $crate::bindings::SkillError>
                {
                    $crate::__private::invoke::<$skill>(&input)
                }
            }

            $crate::bindings::__runproof_export_skill_world!(
                __RunproofSkillAdapter with_types_in $crate::bindings
            );
        };
    };
}

/// Bindings generated from `wit/skill.wit`. Not part of the public API: use [`Skill`],
/// [`http`] and [`log`] instead.
#[doc(hidden)]
#[allow(missing_docs, unsafe_op_in_unsafe_fn, clippy::all, rust_2018_idioms)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "skill",
        // `export_skill!` expands in the skill's crate and calls the generated export macro
        // from there, so it must be exported from this crate.
        pub_export_macro: true,
        export_macro_name: "__runproof_export_skill_world",
        default_bindings_module: "runproof_sdk::bindings",
    });
}

/// Calling a [`Skill`] the way the runtime does, for tests.
///
/// ```
/// use runproof_sdk::prelude::*;
///
/// struct Echo;
/// impl Skill for Echo {
///     type Input = serde_json::Value;
///     type Output = serde_json::Value;
///     fn describe() -> SkillInfo { SkillInfo::new("echo", "0.1.0", "echoes") }
///     fn invoke(input: Self::Input) -> Result<Self::Output, SkillError> { Ok(input) }
/// }
///
/// assert_eq!(runproof_sdk::testing::invoke::<Echo>(r#"{"a":1}"#).unwrap(), r#"{"a":1}"#);
/// assert_eq!(runproof_sdk::testing::invoke::<Echo>("{").unwrap_err().code, "invalid-input");
/// ```
pub mod testing {
    use crate::{Skill, SkillError};

    /// Runs `T::invoke` on a JSON input and returns the JSON output, exactly as the exported
    /// `invoke` does (including the `invalid-input` error for input that does not parse).
    pub fn invoke<T: Skill>(input: &str) -> Result<String, SkillError> {
        crate::__private::invoke_json::<T>(input)
    }
}

/// Glue called by [`export_skill!`]. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    use crate::bindings;
    use crate::{Skill, SkillError};

    /// `describe`, converted to the WIT record.
    pub fn describe<T: Skill>() -> bindings::SkillInfo {
        T::describe().into_wit()
    }

    /// `invoke`, converted to the WIT result.
    pub fn invoke<T: Skill>(input: &str) -> Result<String, bindings::SkillError> {
        invoke_json::<T>(input).map_err(SkillError::into_wit)
    }

    /// The typed part of `invoke`: JSON in, [`Skill::invoke`], JSON out.
    pub fn invoke_json<T: Skill>(input: &str) -> Result<String, SkillError> {
        let input: T::Input =
            serde_json::from_str(input).map_err(|e| SkillError::invalid_input(e.to_string()))?;
        let output = T::invoke(input)?;
        serde_json::to_string(&output).map_err(|e| {
            SkillError::new(
                "invalid-output",
                format!("could not serialize the skill's output: {e}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::prelude::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct In {
        a: i64,
        b: i64,
    }

    #[derive(Serialize)]
    struct Out {
        sum: i64,
    }

    struct Adder;

    impl Skill for Adder {
        type Input = In;
        type Output = Out;
        fn describe() -> SkillInfo {
            SkillInfo::new("adder", "1.2.3", "adds").outbound_host("http://127.0.0.1:*")
        }
        fn invoke(input: In) -> Result<Out, SkillError> {
            if input.a < 0 {
                return Err(SkillError::new("negative", "a is negative"));
            }
            Ok(Out {
                sum: input.a + input.b,
            })
        }
    }

    #[test]
    fn invoke_roundtrip() {
        let out = crate::__private::invoke::<Adder>(r#"{"a": 2, "b": 3}"#).unwrap();
        assert_eq!(out, r#"{"sum":5}"#);
    }

    #[test]
    fn invoke_bad_input_is_invalid_input() {
        let err = crate::__private::invoke::<Adder>(r#"{"a": 2, "c": 3}"#).unwrap_err();
        assert_eq!(err.code, "invalid-input");
        assert!(err.message.contains("unknown field `c`"), "{}", err.message);

        let err = crate::__private::invoke::<Adder>("not json").unwrap_err();
        assert_eq!(err.code, "invalid-input");
    }

    #[test]
    fn invoke_skill_error_passes_through() {
        let err = crate::__private::invoke::<Adder>(r#"{"a": -1, "b": 3}"#).unwrap_err();
        assert_eq!(err.code, "negative");
        assert_eq!(err.message, "a is negative");
    }

    #[test]
    fn describe_converts_to_wit() {
        let info = crate::__private::describe::<Adder>();
        assert_eq!(info.name, "adder");
        assert_eq!(info.version, "1.2.3");
        assert_eq!(info.capabilities.outbound_hosts, vec!["http://127.0.0.1:*"]);
        assert_eq!(info.capabilities.max_memory_bytes, None);
    }
}
