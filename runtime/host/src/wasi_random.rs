//! `wasi:random/{random, insecure, insecure-seed}` for skills: the bytes come from the
//! invocation's world (`world.rs`: the OS generator in a run, the trace in a replay), and
//! every call is recorded as what it handed out (one read per guest call, compacted with
//! its neighbours by `compact.rs`).
//!
//! Served and recorded here, per call, rather than inside a generator: wasmtime_wasi fills
//! `get-random-bytes(n)` by drawing `n` separate `u32`s and keeping one byte of each, so a
//! generator-level record would hold four bytes per byte and one read per byte, neither of
//! which is what the guest saw. `get-random-u64` is recorded as its 8 little-endian bytes.
//! The insecure seed is recorded when the guest asks for it, and only then: a component
//! that does not import `wasi:random/insecure-seed` gets no seed step at all.

use crate::compact::Read;
use crate::state::SkillState;
use wasmtime::component::{HasSelf, Linker};
use wasmtime_wasi::p2::bindings::random::{insecure, insecure_seed, random};

/// Largest single read a skill may ask for: it is recorded whole, so it bounds one step.
/// (wasmtime_wasi allows 64 MiB.)
pub const MAX_RANDOM_READ: u64 = 1 << 20;

pub(crate) fn add_to_linker(linker: &mut Linker<SkillState>) -> wasmtime::Result<()> {
    random::add_to_linker::<SkillState, HasSelf<SkillState>>(linker, |s| s)?;
    insecure::add_to_linker::<SkillState, HasSelf<SkillState>>(linker, |s| s)?;
    insecure_seed::add_to_linker::<SkillState, HasSelf<SkillState>>(linker, |s| s)?;
    Ok(())
}

fn check_len(len: u64) -> wasmtime::Result<()> {
    if len > MAX_RANDOM_READ {
        wasmtime::bail!(
            "a random read of {len} bytes exceeds the cap of {MAX_RANDOM_READ} bytes per call"
        );
    }
    Ok(())
}

impl SkillState {
    /// `len` bytes from the invocation's world (`world.rs`), for the guest call of `source`.
    fn draw(&self, source: &'static str, len: u64) -> Vec<u8> {
        let mut bytes = vec![0; len as usize];
        self.world.random(source, &mut bytes);
        bytes
    }

    fn draw_u64(&self, source: &'static str) -> u64 {
        let mut b = [0u8; 8];
        self.world.random(source, &mut b);
        u64::from_le_bytes(b)
    }

    fn record_random(&self, source: &'static str, bytes: &[u8]) {
        self.reporter.read(Read::Random {
            source,
            bytes: bytes.to_vec(),
        });
    }
}

impl random::Host for SkillState {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        check_len(len)?;
        let bytes = self.draw("secure", len);
        self.record_random("secure", &bytes);
        Ok(bytes)
    }

    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        let n = self.draw_u64("secure");
        self.record_random("secure", &n.to_le_bytes());
        Ok(n)
    }
}

impl insecure::Host for SkillState {
    fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        check_len(len)?;
        let bytes = self.draw("insecure", len);
        self.record_random("insecure", &bytes);
        Ok(bytes)
    }

    fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
        let n = self.draw_u64("insecure");
        self.record_random("insecure", &n.to_le_bytes());
        Ok(n)
    }
}

impl insecure_seed::Host for SkillState {
    fn insecure_seed(&mut self) -> wasmtime::Result<(u64, u64)> {
        // The seed as one 128-bit little-endian value: low word first, as it is returned.
        let bytes = self.draw("insecure-seed", 16);
        let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let (lo, hi) = (word(0), word(8));
        self.record_random("insecure-seed", &bytes);
        Ok((lo, hi))
    }
}
