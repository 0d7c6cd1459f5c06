//! Test fixture: a valid component of another world. `skill add` must refuse it for not
//! exporting `describe`/`invoke`.

wit_bindgen::generate!({ path: "wit", world: "wrong" });

struct Wrong;

impl Guest for Wrong {
    fn run() -> String {
        "not a skill".into()
    }
}

export!(Wrong);
