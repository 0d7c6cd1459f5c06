//! Test fixture: a component importing `wasi:http/outgoing-handler@0.3.0`, an interface
//! RunProof does not provide (0.2.x is routed through the policed outbound path; 0.3 is
//! not). `skill add` must refuse it, naming the import.

wit_bindgen::generate!({ path: "wit", world: "forbidden", generate_all });

struct Forbidden;

impl Guest for Forbidden {
    fn run() -> u32 {
        // Called so the import stays in the component.
        wasi::http::outgoing_handler::handle("http://169.254.169.254/")
    }
}

export!(Forbidden);
