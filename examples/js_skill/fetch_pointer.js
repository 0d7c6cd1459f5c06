// fetch_pointer_js: the JSON-pointer skill written against plain fetch(). componentize-js
// implements fetch() over standard wasi:http/outgoing-handler, which RunProof routes
// through the same policy, secrets, caps and recording as runproof:skill/http.
//
// Input: {"url": "http://127.0.0.1:8080/doc.json", "pointer": "/a/b/0"}
// Output: {"value": <the value at the pointer>, "status": <HTTP status>}
//
// Build (`http` stays enabled: fetch needs it):
//   npx jco componentize fetch_pointer.js --wit ../../sdk/wit --world-name skill \
//       --disable stdio --disable random --disable clocks --disable fetch-event \
//       -o fetch_pointer_js.wasm
import { log } from "runproof:skill/log@0.1.0";

function fail(code, message) {
  throw { payload: { code, message } };
}

function resolve(doc, pointer) {
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
    name: "fetch_pointer_js",
    version: "0.1.0",
    description: "fetch()es a JSON document and returns the value at a JSON pointer (JavaScript, wasi:http)",
    capabilities: {
      outboundHosts: ["http://127.0.0.1:*", "https://*:*"],
      secrets: [],
      maxMemoryBytes: undefined,
      timeoutMs: undefined,
    },
  };
}

export async function invoke(input) {
  let url, pointer;
  try {
    ({ url, pointer } = JSON.parse(input));
  } catch (e) {
    fail("invalid-input", `expected {"url": ..., "pointer": ...}: ${e}`);
  }
  log("info", `fetch ${url}`);
  let response;
  try {
    response = await fetch(url, { headers: { accept: "application/json" } });
  } catch (e) {
    // A denied request rejects like any network error (HTTP-request-denied underneath;
    // the reason is in the recorded host.http step).
    fail("http-other", `fetch ${url} failed: ${e}`);
  }
  if (!response.ok) fail("http-status", `${url} answered ${response.status}`);
  let doc;
  try {
    doc = await response.json();
  } catch (e) {
    fail("invalid-json", `${url} did not return JSON: ${e}`);
  }
  return JSON.stringify({ value: resolve(doc, pointer), status: response.status });
}
