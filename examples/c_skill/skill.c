/* json_pointer_c: GETs a JSON document and returns the value at an RFC 6901 pointer.
 * The same skill as examples/python_skill and examples/js_skill, in C, over RunProof's own
 * runproof:skill/http. Hand-written; gen/ holds the wit-bindgen output it implements.
 *
 * Input: {"url": "http://127.0.0.1:8080/doc.json", "pointer": "/a/b/0"}
 * Output: {"value": <the value at the pointer>}
 *
 * Build: ./build.sh
 *
 * Ownership (the canonical ABI): what this code returns to the host (describe's record,
 * invoke's string or error) must be malloc'd, and the host frees it after the call; what
 * an import returns to us (send's response or error) is ours to free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/skill.h"
#include "json.h"


/* The error arm of invoke's result: return false with `err` filled. */
static bool fail(skill_skill_error_t *err, const char *code, const char *message) {
    skill_string_dup(&err->code, code);
    skill_string_dup(&err->message, message);
    return false;
}

void exports_skill_describe(skill_skill_info_t *ret) {
    static const char *hosts[] = {"http://127.0.0.1:*", "https://*:*"};
    skill_string_dup(&ret->name, "json_pointer_c");
    skill_string_dup(&ret->version, "0.1.0");
    skill_string_dup(&ret->description,
                     "GETs a JSON document and returns the value at a JSON pointer (C)");
    size_t n = sizeof hosts / sizeof hosts[0];
    ret->capabilities.outbound_hosts.ptr = malloc(n * sizeof(skill_string_t));
    ret->capabilities.outbound_hosts.len = n;
    for (size_t i = 0; i < n; i++) skill_string_dup(&ret->capabilities.outbound_hosts.ptr[i], hosts[i]);
    ret->capabilities.secrets.ptr = NULL;
    ret->capabilities.secrets.len = 0;
    ret->capabilities.max_memory_bytes.is_some = false;
    ret->capabilities.timeout_ms.is_some = false;
}

/* The string field `name` of the input object, decoded into a NUL-terminated malloc'd
 * string; NULL if it is missing or not a string. */
static char *input_string(json_slice input, const char *pointer) {
    json_slice lit;
    json_slice ptr = {pointer, strlen(pointer)};
    if (json_pointer(input, ptr, &lit) != JSON_OK) return NULL;
    char *buf = malloc(lit.len + 1);
    long n = json_unquote(lit, buf);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static const char *http_error_code(uint8_t tag) {
    switch (tag) {
        case RUNPROOF_SKILL_HTTP_HTTP_ERROR_DENIED: return "http-denied";
        case RUNPROOF_SKILL_HTTP_HTTP_ERROR_INVALID_REQUEST: return "http-invalid-request";
        case RUNPROOF_SKILL_HTTP_HTTP_ERROR_CONNECT: return "http-connect";
        case RUNPROOF_SKILL_HTTP_HTTP_ERROR_TIMEOUT: return "http-timeout";
        case RUNPROOF_SKILL_HTTP_HTTP_ERROR_TOO_LARGE: return "http-too-large";
        default: return "http-other"; /* RUNPROOF_SKILL_HTTP_HTTP_ERROR_OTHER */
    }
}

bool exports_skill_invoke(skill_string_t *input, skill_string_t *ret, skill_skill_error_t *err) {
    json_slice in = {(const char *)input->ptr, input->len};
    char *url = input_string(in, "/url");
    char *pointer = input_string(in, "/pointer");
    bool ok = false;
    if (!url || !pointer) {
        ok = fail(err, "invalid-input", "expected {\"url\": \"...\", \"pointer\": \"...\"}");
        goto done;
    }

    char line[2048];
    snprintf(line, sizeof line, "GET %s", url);
    skill_string_t message;
    skill_string_set(&message, line);
    runproof_skill_log_log(RUNPROOF_SKILL_LOG_LEVEL_INFO, &message);

    skill_tuple2_string_string_t accept;
    skill_string_set(&accept.f0, "accept");
    skill_string_set(&accept.f1, "application/json");
    runproof_skill_http_request_t request = {0};
    skill_string_set(&request.method, "GET");
    skill_string_set(&request.url, url);
    request.headers.ptr = &accept;
    request.headers.len = 1;
    request.body.is_some = false;
    request.timeout_ms.is_some = false;
    request.follow_redirects = true;

    runproof_skill_http_response_t response;
    runproof_skill_http_http_error_t http_err;
    if (!runproof_skill_http_send(&request, &response, &http_err)) {
        /* Every variant carries its message in the same place. */
        skill_string_t *m = &http_err.val.other;
        snprintf(line, sizeof line, "%.*s", (int)m->len, (const char *)m->ptr);
        ok = fail(err, http_error_code(http_err.tag), line);
        runproof_skill_http_http_error_free(&http_err);
        goto done;
    }
    if (response.status < 200 || response.status >= 300) {
        snprintf(line, sizeof line, "%s answered %u", url, (unsigned)response.status);
        ok = fail(err, "http-status", line);
    } else {
        json_slice doc = {(const char *)response.body.ptr, response.body.len};
        json_slice ptr = {pointer, strlen(pointer)};
        json_slice value;
        switch (json_pointer(doc, ptr, &value)) {
            case JSON_OK: {
                static const char open[] = "{\"value\":";
                size_t len = sizeof open - 1 + value.len + 1;
                char *out = malloc(len);
                memcpy(out, open, sizeof open - 1);
                memcpy(out + sizeof open - 1, value.ptr, value.len);
                out[len - 1] = '}';
                ret->ptr = (uint8_t *)out;
                ret->len = len;
                ok = true;
                break;
            }
            case JSON_NOT_FOUND:
                snprintf(line, sizeof line, "%s does not exist in the document", pointer);
                ok = fail(err, "not-found", line);
                break;
            case JSON_BAD_POINTER:
                snprintf(line, sizeof line, "a JSON pointer starts with '/': %s", pointer);
                ok = fail(err, "invalid-input", line);
                break;
            default:
                snprintf(line, sizeof line, "%s did not return JSON", url);
                ok = fail(err, "invalid-json", line);
        }
    }
    runproof_skill_http_response_free(&response);
done:
    free(url);
    free(pointer);
    return ok;
}
