"""runproof_verify: a second, independent verifier of RunProof's offline proofs (bundles
and inclusion proofs), written from docs/proof-format.md with the Python standard library
and the `cryptography` package. It shares no code with the Rust verifier (`runtime
verify`); the test vectors and the end-to-end suites check that the two agree.

    python3 -m runproof_verify FILE --trusted-key KEY.pub [--trusted-key ...] [--json]
"""

from .verify import verify_document  # noqa: F401
