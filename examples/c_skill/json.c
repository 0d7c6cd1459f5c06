/* See json.h. Hand-written (not generated). */
#include "json.h"

#include <string.h>

typedef struct {
    const char *p;
    const char *end;
} cursor;

static void ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

/* Skips one string literal; the cursor must be at its opening quote. */
static int skip_string(cursor *c) {
    if (c->p >= c->end || *c->p != '"') return JSON_INVALID;
    c->p++;
    while (c->p < c->end) {
        if (*c->p == '\\') {
            c->p += 2;
        } else if (*c->p == '"') {
            c->p++;
            return JSON_OK;
        } else {
            c->p++;
        }
    }
    return JSON_INVALID;
}

/* Skips one value of any kind. */
static int skip_value(cursor *c) {
    ws(c);
    if (c->p >= c->end) return JSON_INVALID;
    char ch = *c->p;
    if (ch == '"') return skip_string(c);
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->p++;
        ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return JSON_OK;
        }
        for (;;) {
            if (ch == '{') {
                ws(c);
                if (skip_string(c)) return JSON_INVALID;
                ws(c);
                if (c->p >= c->end || *c->p != ':') return JSON_INVALID;
                c->p++;
            }
            if (skip_value(c)) return JSON_INVALID;
            ws(c);
            if (c->p >= c->end) return JSON_INVALID;
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p == close) {
                c->p++;
                return JSON_OK;
            }
            return JSON_INVALID;
        }
    }
    /* A number, true, false or null: up to the next delimiter. */
    const char *start = c->p;
    while (c->p < c->end && !strchr(",]} \t\n\r", *c->p)) c->p++;
    return c->p > start ? JSON_OK : JSON_INVALID;
}

/* Whether the string literal at `lit` (with quotes) equals the pointer token `tok`
 * (with ~1 and ~0 unescaped). Literals with escapes are decoded first. */
static int key_equals(json_slice lit, const char *tok, size_t tok_len) {
    char key[1024];
    char want[1024];
    if (lit.len > sizeof key || tok_len > sizeof want) return 0;
    long n = json_unquote(lit, key);
    if (n < 0) return 0;
    size_t m = 0;
    for (size_t i = 0; i < tok_len; i++) {
        if (tok[i] == '~' && i + 1 < tok_len && (tok[i + 1] == '0' || tok[i + 1] == '1')) {
            want[m++] = tok[i + 1] == '0' ? '~' : '/';
            i++;
        } else {
            want[m++] = tok[i];
        }
    }
    return (size_t)n == m && memcmp(key, want, m) == 0;
}

int json_pointer(json_slice doc, json_slice pointer, json_slice *out) {
    cursor c = {doc.ptr, doc.ptr + doc.len};
    const char *tok = pointer.ptr;
    const char *pend = pointer.ptr + pointer.len;
    if (pointer.len > 0 && *tok != '/') return JSON_BAD_POINTER;
    while (tok < pend) {
        tok++; /* the '/' */
        const char *tend = memchr(tok, '/', (size_t)(pend - tok));
        if (!tend) tend = pend;
        size_t tlen = (size_t)(tend - tok);
        ws(&c);
        if (c.p >= c.end) return JSON_INVALID;
        if (*c.p == '{') {
            c.p++;
            int found = 0;
            for (;;) {
                ws(&c);
                if (c.p < c.end && *c.p == '}') break;
                const char *kstart = c.p;
                if (skip_string(&c)) return JSON_INVALID;
                json_slice key = {kstart, (size_t)(c.p - kstart)};
                ws(&c);
                if (c.p >= c.end || *c.p != ':') return JSON_INVALID;
                c.p++;
                if (key_equals(key, tok, tlen)) {
                    found = 1;
                    break;
                }
                if (skip_value(&c)) return JSON_INVALID;
                ws(&c);
                if (c.p < c.end && *c.p == ',') {
                    c.p++;
                    continue;
                }
                break;
            }
            if (!found) return JSON_NOT_FOUND;
        } else if (*c.p == '[') {
            size_t index = 0;
            if (tlen == 0 || (tlen > 1 && tok[0] == '0')) return JSON_NOT_FOUND;
            for (size_t i = 0; i < tlen; i++) {
                if (tok[i] < '0' || tok[i] > '9') return JSON_NOT_FOUND;
                index = index * 10 + (size_t)(tok[i] - '0');
            }
            c.p++;
            for (size_t i = 0; i < index; i++) {
                ws(&c);
                if (c.p < c.end && *c.p == ']') return JSON_NOT_FOUND;
                if (skip_value(&c)) return JSON_INVALID;
                ws(&c);
                if (c.p >= c.end || *c.p != ',') return JSON_NOT_FOUND;
                c.p++;
            }
            ws(&c);
            if (c.p < c.end && *c.p == ']') return JSON_NOT_FOUND;
        } else {
            return JSON_NOT_FOUND;
        }
        tok = tend;
    }
    ws(&c);
    const char *start = c.p;
    if (skip_value(&c)) return JSON_INVALID;
    out->ptr = start;
    out->len = (size_t)(c.p - start);
    return JSON_OK;
}

long json_unquote(json_slice lit, char *buf) {
    if (lit.len < 2 || lit.ptr[0] != '"' || lit.ptr[lit.len - 1] != '"') return -1;
    size_t n = 0;
    for (size_t i = 1; i + 1 < lit.len; i++) {
        char ch = lit.ptr[i];
        if (ch != '\\') {
            buf[n++] = ch;
            continue;
        }
        if (++i + 1 > lit.len) return -1;
        switch (lit.ptr[i]) {
            case 'n': buf[n++] = '\n'; break;
            case 't': buf[n++] = '\t'; break;
            case 'r': buf[n++] = '\r'; break;
            case 'b': buf[n++] = '\b'; break;
            case 'f': buf[n++] = '\f'; break;
            case 'u': return -1; /* \u escapes are not needed by this skill's inputs */
            default: buf[n++] = lit.ptr[i]; break;
        }
    }
    return (long)n;
}
