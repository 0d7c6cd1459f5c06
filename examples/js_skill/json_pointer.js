// json_pointer_js: GETs a JSON document and returns the value at an RFC 6901 pointer.
// The same skill as examples/python_skill and examples/c_skill, in JavaScript, over
// RunProof's own runproof:skill/http (one buffered request, one buffered response).
//
// Input: {"url": "http://127.0.0.1:8080/doc.json", "pointer": "/a/b/0"}
// Output: {"value": <the value at the pointer>}
//
// Build: npx jco componentize json_pointer.js --wit ../../sdk/wit --world-name skill \
//            --disable all -o json_pointer_js.wasm
import { log } from "runproof:skill/log@0.1.0";
import { send } from "runproof:skill/http@0.1.0";

// A skill's own failure: `result<string, skill-error>`'s error arm is a thrown object
// whose `payload` is the skill-error record.
function fail(code, message) {
  throw { payload: { code, message } };
}

export function resolve(doc, pointer) {
  if (pointer === "") return doc;
  if (!pointer.startsWith("/")) fail("invalid-input", `a JSON pointer starts with '/': ${pointer}`);
  let value = doc;
  for (const raw of pointer.slice(1).split("/")) {
    const token = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.hasOwn(value, token)) {
      value = value[token];
    } else if (Array.isArray(value) && /^\d+$/.test(token) && Number(token) < value.length) {
      value = value[Number(token)];
    } else {
      fail("not-found", `${pointer} does not exist in the document (at '${token}')`);
    }
  }
  return value;
}

export function describe() {
  return {
    name: "json_pointer_js",
    version: "0.1.0",
    description: "GETs a JSON document and returns the value at a JSON pointer (JavaScript)",
    capabilities: {
      outboundHosts: ["http://127.0.0.1:*", "https://*:*"],
      secrets: [],
      maxMemoryBytes: undefined,
      timeoutMs: undefined,
    },
  };
}

export function invoke(input) {
  let url, pointer;
  try {
    ({ url, pointer } = JSON.parse(input));
  } catch (e) {
    fail("invalid-input", `expected {"url": ..., "pointer": ...}: ${e}`);
  }
  if (typeof url !== "string" || typeof pointer !== "string") {
    fail("invalid-input", 'expected {"url": "...", "pointer": "..."}');
  }
  log("info", `GET ${url}`);
  let response;
  try {
    response = send({
      method: "GET",
      url,
      headers: [["accept", "application/json"]],
      body: undefined,
      timeoutMs: undefined,
      followRedirects: true,
    });
  } catch (e) {
    // An imported function's error arm arrives as a thrown error whose `payload` is the
    // http-error variant: {tag: "denied", val: "..."}.
    const err = e.payload ?? { tag: "other", val: String(e) };
    fail(`http-${err.tag}`, err.val);
  }
  if (response.status < 200 || response.status >= 300) {
    fail("http-status", `${url} answered ${response.status}`);
  }
  let doc;
  try {
    doc = JSON.parse(new TextDecoder().decode(response.body));
  } catch (e) {
    fail("invalid-json", `${url} did not return JSON: ${e}`);
  }
  return JSON.stringify({ value: resolve(doc, pointer) });
}
