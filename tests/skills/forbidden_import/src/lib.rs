//! Test fixture: a component importing `wasi:http/outgoing-handler`, a way to the network
//! around the recorded `runproof:skill/http`. `skill add` must refuse it, naming the import.

wit_bindgen::generate!({ path: "wit", world: "forbidden", generate_all });

struct Forbidden;

impl Guest for Forbidden {
    fn run() -> u32 {
        // Called so the import stays in the component.
        wasi::http::outgoing_handler::handle("http://169.254.169.254/")
    }
}

export!(Forbidden);
