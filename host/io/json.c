/*
** json.c — the strict JSON reader (see json.h for why ember has its own).
** Recursive descent over a byte range; every node and decoded string lives in one
** arena freed at once.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* {====== arena */

typedef struct block {
  struct block *prev;
  size_t used, size;
  max_align_t data[];
} block;

struct ember_json_doc {
  block *top;
  ember_json *root;
};

static void *arena_alloc(ember_json_doc *d, size_t n) {
  n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
  block *b = d->top;
  if (b == NULL || b->size - b->used < n) {
    size_t size = n > 65536 ? n : 65536;
    b = malloc(sizeof(block) + size);
    if (b == NULL) return NULL;
    b->prev = d->top;
    b->used = 0;
    b->size = size;
    d->top = b;
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  return p;
}

void ember_json_free(ember_json_doc *d) {
  if (d == NULL) return;
  for (block *b = d->top; b;) {
    block *prev = b->prev;
    free(b);
    b = prev;
  }
  free(d);
}

ember_json *ember_json_root(ember_json_doc *d) { return d->root; }

/* }====== */

/* {====== UTF-8 */

/* Length of the well-formed sequence at p (1..4), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned min, cp;
  if ((c & 0xe0) == 0xc0) { len = 2; min = 0x80; cp = c & 0x1f; }
  else if ((c & 0xf0) == 0xe0) { len = 3; min = 0x800; cp = c & 0x0f; }
  else if ((c & 0xf8) == 0xf0) { len = 4; min = 0x10000; cp = c & 0x07; }
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

int ember_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) { i++; continue; }
    size_t k = utf8_seq(p + i, n - i);
    if (k == 0) return 0;
    i += k;
  }
  return 1;
}

/* }====== */

/* {====== parser */

typedef struct parser {
  const unsigned char *p, *end, *start;
  int depth, max_depth;
  ember_json_doc *doc;
  char *err;
  size_t errsize;
  int failed;
} parser;

static void fail(parser *ps, const char *fmt, ...) {
  if (ps->failed) return;
  ps->failed = 1;
  char msg[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(ps->err, ps->errsize, "%s at byte %zu", msg, (size_t)(ps->p - ps->start));
}

static void skip_ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static ember_json *new_node(parser *ps, ember_json_type type) {
  ember_json *v = arena_alloc(ps->doc, sizeof *v);
  if (v == NULL) {
    fail(ps, "out of memory");
    return NULL;
  }
  memset(v, 0, sizeof *v);
  v->type = type;
  return v;
}

static int hex4(parser *ps, unsigned *out) {
  if (ps->end - ps->p < 4) return 0;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = ps->p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return 0;
  }
  ps->p += 4;
  *out = v;
  return 1;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) { o[0] = (char)cp; return 1; }
  if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Decodes the string at ps->p (just after its opening quote). The decoded form is
** never longer than the raw one, which bounds the arena space it needs. */
static const char *parse_string(parser *ps, size_t *len) {
  const unsigned char *q = ps->p;
  while (q < ps->end && *q != '"') q += *q == '\\' && q + 1 < ps->end ? 2 : 1;
  if (q >= ps->end) {
    fail(ps, "unterminated string");
    return NULL;
  }
  char *out = arena_alloc(ps->doc, (size_t)(q - ps->p) + 1);
  if (out == NULL) {
    fail(ps, "out of memory");
    return NULL;
  }
  size_t n = 0;
  while (*ps->p != '"') {
    unsigned c = *ps->p;
    if (c < 0x20) {
      fail(ps, "control character in a string");
      return NULL;
    }
    if (c >= 0x80) {
      size_t k = utf8_seq(ps->p, (size_t)(ps->end - ps->p));
      if (k == 0) {
        fail(ps, "invalid UTF-8 in a string");
        return NULL;
      }
      memcpy(out + n, ps->p, k);
      n += k;
      ps->p += k;
      continue;
    }
    ps->p++;
    if (c != '\\') {
      out[n++] = (char)c;
      continue;
    }
    c = *ps->p++;
    switch (c) {
    case '"': out[n++] = '"'; break;
    case '\\': out[n++] = '\\'; break;
    case '/': out[n++] = '/'; break;
    case 'b': out[n++] = '\b'; break;
    case 'f': out[n++] = '\f'; break;
    case 'n': out[n++] = '\n'; break;
    case 'r': out[n++] = '\r'; break;
    case 't': out[n++] = '\t'; break;
    case 'u': {
      unsigned cp, lo;
      if (!hex4(ps, &cp)) { fail(ps, "bad \\u escape"); return NULL; }
      if (cp >= 0xdc00 && cp <= 0xdfff) { fail(ps, "lone low surrogate"); return NULL; }
      if (cp >= 0xd800 && cp <= 0xdbff) {
        if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
          fail(ps, "lone high surrogate");
          return NULL;
        }
        ps->p += 2;
        if (!hex4(ps, &lo) || lo < 0xdc00 || lo > 0xdfff) {
          fail(ps, "lone high surrogate");
          return NULL;
        }
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      }
      n += put_utf8(out + n, cp);
      break;
    }
    default:
      ps->p--;
      fail(ps, "bad escape");
      return NULL;
    }
  }
  ps->p++;   /* closing quote */
  out[n] = '\0';
  *len = n;
  return out;
}

static int digit(parser *ps) { return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9'; }

static ember_json *parse_number(parser *ps) {
  const unsigned char *s = ps->p;
  if (*ps->p == '-') ps->p++;
  if (!digit(ps)) { fail(ps, "bad number"); return NULL; }
  if (*ps->p == '0') {
    ps->p++;
    if (digit(ps)) { fail(ps, "leading zero in a number"); return NULL; }
  } else {
    while (digit(ps)) ps->p++;
  }
  if (ps->p < ps->end && *ps->p == '.') {
    ps->p++;
    if (!digit(ps)) { fail(ps, "bad fraction"); return NULL; }
    while (digit(ps)) ps->p++;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    ps->p++;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
    if (!digit(ps)) { fail(ps, "bad exponent"); return NULL; }
    while (digit(ps)) ps->p++;
  }
  ember_json *v = new_node(ps, EMBER_JSON_NUMBER);
  if (v) {
    v->str = (const char *)s;
    v->len = (size_t)(ps->p - s);
  }
  return v;
}

static ember_json *parse_value(parser *ps);

static ember_json *parse_container(parser *ps, int is_object) {
  if (++ps->depth > ps->max_depth) {
    fail(ps, "nested deeper than %d", ps->max_depth);
    return NULL;
  }
  ps->p++;   /* [ or { */
  ember_json *v = new_node(ps, is_object ? EMBER_JSON_OBJECT : EMBER_JSON_ARRAY);
  if (v == NULL) return NULL;
  ember_json **tail = &v->child;
  char close = is_object ? '}' : ']';
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    ps->depth--;
    return v;
  }
  for (;;) {
    const char *key = NULL;
    size_t keylen = 0;
    skip_ws(ps);
    if (is_object) {
      if (ps->p >= ps->end || *ps->p != '"') { fail(ps, "expected a member name"); return NULL; }
      ps->p++;
      if ((key = parse_string(ps, &keylen)) == NULL) return NULL;
      skip_ws(ps);
      if (ps->p >= ps->end || *ps->p != ':') { fail(ps, "expected ':'"); return NULL; }
      ps->p++;
    }
    ember_json *item = parse_value(ps);
    if (item == NULL) return NULL;
    item->key = key;
    item->keylen = keylen;
    *tail = item;
    tail = &item->next;
    v->count++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
    if (ps->p < ps->end && *ps->p == close) { ps->p++; break; }
    fail(ps, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    return NULL;
  }
  ps->depth--;
  return v;
}

static ember_json *literal(parser *ps, const char *word, ember_json_type type) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
    fail(ps, "unexpected character");
    return NULL;
  }
  ps->p += n;
  return new_node(ps, type);
}

static ember_json *parse_value(parser *ps) {
  skip_ws(ps);
  if (ps->p >= ps->end) { fail(ps, "unexpected end"); return NULL; }
  switch (*ps->p) {
  case '{': return parse_container(ps, 1);
  case '[': return parse_container(ps, 0);
  case '"': {
    ps->p++;
    ember_json *v = new_node(ps, EMBER_JSON_STRING);
    if (v && (v->str = parse_string(ps, &v->len)) == NULL) return NULL;
    return v;
  }
  case 't': return literal(ps, "true", EMBER_JSON_TRUE);
  case 'f': return literal(ps, "false", EMBER_JSON_FALSE);
  case 'n': return literal(ps, "null", EMBER_JSON_NULL);
  default:
    if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return parse_number(ps);
    fail(ps, "unexpected character");
    return NULL;
  }
}

ember_json_doc *ember_json_parse(const char *text, size_t n, int max_depth, char *err,
                                 size_t errsize) {
  ember_json_doc *d = calloc(1, sizeof *d);
  if (d == NULL) {
    snprintf(err, errsize, "out of memory");
    return NULL;
  }
  parser ps = { (const unsigned char *)text, (const unsigned char *)text + n,
                (const unsigned char *)text, 0, max_depth, d, err, errsize, 0 };
  d->root = parse_value(&ps);
  if (d->root) {
    skip_ws(&ps);
    if (ps.p != ps.end) {
      fail(&ps, "trailing characters");
      d->root = NULL;
    }
  }
  if (d->root == NULL) {
    ember_json_free(d);
    return NULL;
  }
  return d;
}

/* }====== */

int ember_json_u64(const ember_json *v, uint64_t *out) {
  if (v == NULL || v->type != EMBER_JSON_NUMBER) return 0;
  uint64_t x = 0;
  for (size_t i = 0; i < v->len; i++) {
    unsigned c = (unsigned char)v->str[i];
    if (c < '0' || c > '9') return 0;      /* sign, fraction or exponent */
    if (x > (UINT64_MAX - (c - '0')) / 10) return 0;
    x = x * 10 + (c - '0');
  }
  *out = x;
  return 1;
}

ember_json *ember_json_get(const ember_json *obj, const char *key) {
  if (obj == NULL || obj->type != EMBER_JSON_OBJECT) return NULL;
  size_t n = strlen(key);
  for (ember_json *m = obj->child; m; m = m->next)
    if (m->keylen == n && memcmp(m->key, key, n) == 0) return m;
  return NULL;
}
