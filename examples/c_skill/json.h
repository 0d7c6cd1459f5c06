/* A tiny JSON reader for the C skill: enough to walk an RFC 6901 pointer over a JSON
 * text and hand back the raw text of the value it names, without allocating a tree. */
#ifndef JSON_POINTER_JSON_H
#define JSON_POINTER_JSON_H

#include <stddef.h>

/* A slice of the input text. */
typedef struct {
    const char *ptr;
    size_t len;
} json_slice;

/* Result codes. */
enum { JSON_OK = 0, JSON_NOT_FOUND = 1, JSON_INVALID = 2, JSON_BAD_POINTER = 3 };

/* Finds the value `pointer` names in `doc` (both NUL-free slices); on JSON_OK `*out` is the
 * value's raw JSON text (e.g. `"deep"`, `[1,2]`). */
int json_pointer(json_slice doc, json_slice pointer, json_slice *out);

/* Decodes the JSON string literal `lit` (with its quotes) into `buf` (at least lit.len
 * bytes); returns the decoded length, or -1 if `lit` is not a string. */
long json_unquote(json_slice lit, char *buf);

#endif
