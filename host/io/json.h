/*
** json.h — a small strict JSON reader for safetensors headers and checkpoint indexes.
**
** Why not a general JSON library: a header's offsets and shapes are 64-bit integers that
** must be read exactly and refused when they are negative, fractional or written as
** 1e3; libraries that hand numbers back as doubles (cJSON among them) lose both the
** digits past 2^53 and the literal's form. This reader keeps every number's literal
** text, rejects anything RFC 8259 does not allow (raw control characters, lone
** surrogates, invalid UTF-8, trailing garbage, leading zeros), and bounds nesting.
** It is fuzzed with the safetensors reader (spec/fuzz/).
*/
#ifndef ember_json_h
#define ember_json_h

#include <stddef.h>
#include <stdint.h>

typedef enum ember_json_type {
  EMBER_JSON_NULL, EMBER_JSON_FALSE, EMBER_JSON_TRUE, EMBER_JSON_NUMBER,
  EMBER_JSON_STRING, EMBER_JSON_ARRAY, EMBER_JSON_OBJECT
} ember_json_type;

typedef struct ember_json ember_json;
struct ember_json {
  ember_json_type type;
  const char *str;      /* STRING: the decoded bytes (NUL-terminated); NUMBER: the literal */
  size_t len;
  const char *key;      /* member of an object: its decoded name (NUL-terminated) */
  size_t keylen;
  ember_json *child;    /* ARRAY / OBJECT: first element or member, in document order */
  ember_json *next;
  size_t count;         /* ARRAY / OBJECT: number of elements or members */
};

typedef struct ember_json_doc ember_json_doc;

/* Parses text[0..n); NULL on error with a message in err. Whitespace may surround
** the value; nothing else may follow it. */
ember_json_doc *ember_json_parse(const char *text, size_t n, int max_depth, char *err,
                                 size_t errsize);
ember_json *ember_json_root(ember_json_doc *d);
void ember_json_free(ember_json_doc *d);

/* A NUMBER that is a non-negative integer literal fitting in 64 bits (no sign, no
** fraction, no exponent): 1 and the value in out; 0 otherwise. */
int ember_json_u64(const ember_json *v, uint64_t *out);

/* The member named key of an object (the first one), or NULL. */
ember_json *ember_json_get(const ember_json *obj, const char *key);

/* 1 if p[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int ember_utf8_valid(const char *p, size_t n);

#endif
