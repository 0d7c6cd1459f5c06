//! `ping`: GETs a URL and returns its status code. The smallest useful RunProof skill.
//!
//! ```sh
//! cargo build --target wasm32-wasip2 --release
//! runtime skill add ../../guest/target/wasm32-wasip2/release/ping.wasm   # in this checkout
//! ```

use runproof_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    url: String,
}

#[derive(Serialize)]
struct Output {
    status: u16,
}

struct Ping;

impl Skill for Ping {
    type Input = Input;
    type Output = Output;

    fn describe() -> SkillInfo {
        // The skill may reach these hosts at most; the agent's grant narrows it further.
        SkillInfo::new(
            "ping",
            env!("CARGO_PKG_VERSION"),
            "GETs a URL and returns its status",
        )
        .outbound_host("http://127.0.0.1:*")
    }

    fn invoke(input: Input) -> Result<Output, SkillError> {
        log::info(format!("pinging {}", input.url));
        let response = http::get(&input.url)?;
        Ok(Output {
            status: response.status,
        })
    }
}

runproof_sdk::export_skill!(Ping);
