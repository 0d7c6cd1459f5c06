//! Writes `docs/proof-vectors.json`, the test vectors of `docs/proof-format.md`, from this
//! crate's code: `cargo run -p runproof-proof --example proof_vectors`. Run it after any
//! change to the format; `tests/vectors.rs` fails until the committed file matches.

#[path = "../tests/vectors_gen/mod.rs"]
mod vectors_gen;

fn main() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(vectors_gen::VECTORS_PATH);
    let text = vectors_gen::render();
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("error: writing {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("wrote {} ({} bytes)", path.display(), text.len());
}
