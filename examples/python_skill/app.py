"""json_pointer_py: GETs a JSON document and returns the value at an RFC 6901 pointer.

The same skill as examples/js_skill and examples/c_skill, in Python (componentize-py).
Input: {"url": "http://127.0.0.1:8080/doc.json", "pointer": "/a/b/0"}
Output: {"value": <the value at the pointer>}

Build (from this directory; the WIT is the SDK's, the world is `skill`):

    componentize-py -d ../../sdk/wit -w skill componentize app -o json_pointer_py.wasm
"""

import json
import re

import wit_world
from componentize_py_types import Err
from wit_world.imports import http, log
from wit_world.imports.types import Capabilities, SkillError, SkillInfo


def fail(code: str, message: str):
    # A skill's own failure: `result<string, skill-error>`'s error arm is raised as Err(...).
    raise Err(SkillError(code=code, message=message))


def resolve(doc, pointer: str):
    """RFC 6901: "" is the whole document; "/a/0" walks keys and indices; ~1 is /, ~0 is ~."""
    if pointer == "":
        return doc
    if not pointer.startswith("/"):
        fail("invalid-input", f"a JSON pointer starts with '/': {pointer!r}")
    value = doc
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            fail("not-found", f"{pointer} does not exist in the document (at {token!r})")
    return value


class WitWorld(wit_world.WitWorld):
    def describe(self) -> SkillInfo:
        return SkillInfo(
            name="json_pointer_py",
            version="0.1.0",
            description="GETs a JSON document and returns the value at a JSON pointer (Python)",
            capabilities=Capabilities(
                outbound_hosts=["http://127.0.0.1:*", "https://*:*"],
                secrets=[],
                max_memory_bytes=None,
                timeout_ms=None,
            ),
        )

    def invoke(self, input: str) -> str:
        try:
            args = json.loads(input)
            url, pointer = args["url"], args["pointer"]
        except (ValueError, KeyError, TypeError) as e:
            fail("invalid-input", f'expected {{"url": ..., "pointer": ...}}: {e}')
        log.log(log.Level.INFO, f"GET {url}")
        try:
            response = http.send(
                http.Request(
                    method="GET",
                    url=url,
                    headers=[("accept", "application/json")],
                    body=None,
                    timeout_ms=None,
                    follow_redirects=True,
                )
            )
        except Err as e:
            # e.value is the http-error variant, e.g. HttpError_TooLarge(value="...");
            # the code is `http-` and the WIT case name (`too-large`), as the SDK's.
            case = type(e.value).__name__.removeprefix("HttpError_")
            kind = re.sub(r"(?<!^)(?=[A-Z])", "-", case).lower()
            fail(f"http-{kind}", str(e.value.value))
        if not 200 <= response.status < 300:
            fail("http-status", f"{url} answered {response.status}")
        try:
            doc = json.loads(response.body)
        except ValueError as e:
            fail("invalid-json", f"{url} did not return JSON: {e}")
        return json.dumps({"value": resolve(doc, pointer)})
