/* CLDR annotations (see annotations.h): every <annotation cp="..."> of the given files is
 * read with libxml2 into one record per (sequence, type); the records are sorted by the
 * sequence without U+FE0F, then by the exact sequence and the file order, and merged into
 * one entry per exact sequence, which lookups find by binary search. */
#include "genmoji/annotations.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VS16 0xFE0Fu

typedef struct ann_record {
  uint32_t cps[GM_MAX_CODEPOINTS];
  int n;
  int tts;        /* 1: the type="tts" name, 0: the keywords */
  size_t order;   /* file order: the earlier wins */
  char *text;
} ann_record;

struct gm_emoji_annotations {
  gm_emoji_annotation *entries;
  int count;
  char *strings;  /* every keywords/name text, NUL-separated */
};

/* The sequence without U+FE0F, the key lookups compare on. */
static int strip_vs16(const uint32_t *cps, int n, uint32_t *out) {
  int k = 0;
  for (int i = 0; i < n; i++)
    if (cps[i] != VS16) out[k++] = cps[i];
  return k;
}

static int cmp_seq(const uint32_t *a, int na, const uint32_t *b, int nb) {
  for (int i = 0; i < na && i < nb; i++)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return na < nb ? -1 : na > nb;
}

static int cmp_key(const uint32_t *a, int na, const uint32_t *b, int nb) {
  uint32_t sa[GM_MAX_CODEPOINTS], sb[GM_MAX_CODEPOINTS];
  int ka = strip_vs16(a, na, sa), kb = strip_vs16(b, nb, sb);
  int c = cmp_seq(sa, ka, sb, kb);
  return c ? c : cmp_seq(a, na, b, nb);
}

static int cmp_record(const void *pa, const void *pb) {
  const ann_record *a = pa, *b = pb;
  int c = cmp_key(a->cps, a->n, b->cps, b->n);
  if (c) return c;
  return a->order < b->order ? -1 : a->order > b->order;
}

/* cp's UTF-8 as codepoints: 1..GM_MAX_CODEPOINTS Unicode scalar values. */
static int parse_cp(const unsigned char *s, uint32_t *cps, int *n) {
  *n = 0;
  while (*s) {
    int len = 4;
    int c = xmlGetUTF8Char(s, &len);
    if (c < 0 || len <= 0) return -1;
    if ((c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF || *n == GM_MAX_CODEPOINTS) return -1;
    cps[(*n)++] = (uint32_t)c;
    s += len;
  }
  return *n > 0 ? 0 : -1;
}

typedef struct records {
  ann_record *r;
  size_t n, cap;
} records;

static void records_free(records *rs) {
  for (size_t i = 0; i < rs->n; i++) free(rs->r[i].text);
  free(rs->r);
}

static int add_record(records *rs, const uint32_t *cps, int n, int tts, const char *text) {
  if (rs->n == rs->cap) {
    size_t cap = rs->cap ? rs->cap * 2 : 4096;
    ann_record *r = realloc(rs->r, cap * sizeof *r);
    if (!r) return -1;
    rs->r = r;
    rs->cap = cap;
  }
  ann_record *r = &rs->r[rs->n];
  memset(r, 0, sizeof *r);
  memcpy(r->cps, cps, (size_t)n * sizeof *cps);
  r->n = n;
  r->tts = tts;
  r->order = rs->n;
  r->text = strdup(text);
  if (!r->text) return -1;
  rs->n++;
  return 0;
}

/* The trimmed text of an element (CLDR puts none around it, but a file may). */
static char *trimmed_text(xmlNode *node) {
  xmlChar *t = xmlNodeGetContent(node);
  if (!t) return NULL;
  char *s = (char *)t, *e = s + strlen(s);
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
  char *out = malloc((size_t)(e - s) + 1);
  if (out) {
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = '\0';
  }
  xmlFree(t);
  return out;
}

/* Keeps the parser's first error (the later ones follow from it). */
typedef struct first_error {
  int line;
  char msg[512];
} first_error;

static void keep_first_error(void *ctx, xmlErrorPtr e) {
  xmlParserCtxtPtr ctxt = ctx;
  first_error *f = ctxt ? ctxt->_private : NULL;
  if (!f || f->msg[0] || !e || e->level < XML_ERR_ERROR) return;
  snprintf(f->msg, sizeof f->msg, "%s", e->message ? e->message : "unknown error");
  size_t l = strlen(f->msg);
  while (l > 0 && f->msg[l - 1] == '\n') f->msg[--l] = '\0';
  f->line = e->line;
}

static int read_file(records *rs, const char *path, gm_error *err) {
  struct stat st;
  if (stat(path, &st) != 0)
    return gm_error_set(err, errno == ENOENT ? GM_ENOTFOUND : GM_EIO, "%s: %s", path,
                        strerror(errno));
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (!ctxt) return gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
  /* No network, no DTD loading, no entity substitution; errors go to keep_first_error,
   * never to stderr. */
  first_error first = {0};
  ctxt->_private = &first;
  ctxt->sax->serror = keep_first_error;
  xmlDocPtr doc = xmlCtxtReadFile(ctxt, path, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (!doc || first.msg[0]) {
    int rc = first.msg[0] ? gm_error_set(err, GM_EFORMAT, "%s:%d: not well-formed XML: %s",
                                         path, first.line, first.msg)
                          : gm_error_set(err, GM_EFORMAT, "%s: not well-formed XML", path);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
  }
  xmlFreeParserCtxt(ctxt);
  int rc = 0;
  xmlNode *root = xmlDocGetRootElement(doc), *list = NULL;
  for (xmlNode *n = root ? root->children : NULL; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST "annotations") == 0) list = n;
  if (!list) {
    rc = gm_error_set(err, GM_EFORMAT, "%s: no <annotations> element under the root <%s>",
                      path, root ? (const char *)root->name : "?");
  }
  for (xmlNode *n = list ? list->children : NULL; n && !rc; n = n->next) {
    if (n->type != XML_ELEMENT_NODE || xmlStrcmp(n->name, BAD_CAST "annotation") != 0) continue;
    xmlChar *cp = xmlGetProp(n, BAD_CAST "cp"), *type = xmlGetProp(n, BAD_CAST "type");
    uint32_t cps[GM_MAX_CODEPOINTS];
    int ncp = 0;
    if (!cp) {
      rc = gm_error_set(err, GM_EFORMAT, "%s:%ld: <annotation> without a cp attribute", path,
                        xmlGetLineNo(n));
    } else if (parse_cp(cp, cps, &ncp)) {
      rc = gm_error_set(err, GM_EFORMAT,
                        "%s:%ld: cp is not 1 to %d Unicode characters", path, xmlGetLineNo(n),
                        GM_MAX_CODEPOINTS);
    } else if (type && xmlStrcmp(type, BAD_CAST "tts") != 0) {
      /* another type: not one CLDR's English files use; ignored */
    } else {
      char *text = trimmed_text(n);
      if (!text || add_record(rs, cps, ncp, type != NULL, text))
        rc = gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
      free(text);
    }
    xmlFree(cp);
    xmlFree(type);
  }
  xmlFreeDoc(doc);
  return rc;
}

/* One entry per exact sequence, the earliest record of each field winning. */
static int build(gm_emoji_annotations *a, records *rs) {
  qsort(rs->r, rs->n, sizeof *rs->r, cmp_record);
  size_t bytes = 1;
  for (size_t i = 0; i < rs->n; i++) bytes += strlen(rs->r[i].text) + 1;
  a->strings = malloc(bytes);
  a->entries = calloc(rs->n ? rs->n : 1, sizeof *a->entries);
  if (!a->strings || !a->entries) return -1;
  a->strings[0] = '\0';
  size_t used = 1;
  for (size_t i = 0; i < rs->n; i++) {
    const ann_record *r = &rs->r[i];
    gm_emoji_annotation *e = a->count ? &a->entries[a->count - 1] : NULL;
    if (!e || cmp_seq(e->codepoints, e->n_codepoints, r->cps, r->n) != 0) {
      e = &a->entries[a->count++];
      memcpy(e->codepoints, r->cps, sizeof r->cps);
      e->n_codepoints = r->n;
      e->keywords = e->name = a->strings;
    }
    const char **field = r->tts ? &e->name : &e->keywords;
    if (**field) continue;  /* an earlier file gave it */
    size_t l = strlen(r->text);
    memcpy(a->strings + used, r->text, l + 1);
    *field = a->strings + used;
    used += l + 1;
  }
  return 0;
}

int gm_emoji_annotations_load_files(gm_emoji_annotations **out, const char *const *paths,
                                    int n_paths, gm_error *err) {
  *out = NULL;
  records rs = {0};
  int rc = 0;
  for (int i = 0; i < n_paths && !rc; i++) rc = read_file(&rs, paths[i], err);
  gm_emoji_annotations *a = NULL;
  if (!rc) {
    a = calloc(1, sizeof *a);
    if (!a || build(a, &rs)) rc = gm_error_set(err, GM_ENOMEM, "annotations: out of memory");
  }
  records_free(&rs);
  if (rc) {
    gm_emoji_annotations_destroy(a);
    return rc;
  }
  *out = a;
  return 0;
}

int gm_emoji_annotations_load(gm_emoji_annotations **out, const char *dir, gm_error *err) {
  *out = NULL;
  const char *env = getenv(GM_CLDR_DIR_ENV);
  int is_default = !dir && !(env && *env);
  if (!dir) dir = env && *env ? env : GM_CLDR_DIR_DEFAULT;
  char base[4096], derived[4096];
  int nb = snprintf(base, sizeof base, "%s/annotations/en.xml", dir);
  int nd = snprintf(derived, sizeof derived, "%s/annotationsDerived/en.xml", dir);
  if (nb < 0 || (size_t)nb >= sizeof base || nd < 0 || (size_t)nd >= sizeof derived)
    return gm_error_set(err, GM_EINVAL, "annotations: folder name too long: %s", dir);
  struct stat st;
  if (stat(base, &st) != 0)
    return gm_error_set(err, GM_ENOTFOUND, "%s: %s%s", base, strerror(errno),
                        is_default ? " (install Debian's unicode-cldr-core, or set "
                                     GM_CLDR_DIR_ENV " to a CLDR common/ folder)"
                                   : "");
  const char *paths[2] = {base, derived};
  return gm_emoji_annotations_load_files(out, paths, stat(derived, &st) == 0 ? 2 : 1, err);
}

void gm_emoji_annotations_destroy(gm_emoji_annotations *a) {
  if (!a) return;
  free(a->entries);
  free(a->strings);
  free(a);
}

int gm_emoji_annotations_count(const gm_emoji_annotations *a) { return a->count; }

const gm_emoji_annotation *gm_emoji_annotations_at(const gm_emoji_annotations *a, int i) {
  return i >= 0 && i < a->count ? &a->entries[i] : NULL;
}

const gm_emoji_annotation *gm_emoji_annotations_lookup(const gm_emoji_annotations *a,
                                                       const uint32_t *cps, int n_cps) {
  if (n_cps <= 0 || n_cps > GM_MAX_CODEPOINTS) return NULL;
  uint32_t key[GM_MAX_CODEPOINTS];
  int nk = strip_vs16(cps, n_cps, key);
  /* the first entry whose stripped sequence is >= the key */
  int lo = 0, hi = a->count;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    uint32_t s[GM_MAX_CODEPOINTS];
    const gm_emoji_annotation *e = &a->entries[mid];
    int ns = strip_vs16(e->codepoints, e->n_codepoints, s);
    if (cmp_seq(s, ns, key, nk) < 0) lo = mid + 1;
    else hi = mid;
  }
  const gm_emoji_annotation *first = NULL;
  for (int i = lo; i < a->count; i++) {
    uint32_t s[GM_MAX_CODEPOINTS];
    const gm_emoji_annotation *e = &a->entries[i];
    int ns = strip_vs16(e->codepoints, e->n_codepoints, s);
    if (cmp_seq(s, ns, key, nk) != 0) break;
    if (cmp_seq(e->codepoints, e->n_codepoints, cps, n_cps) == 0) return e;
    if (!first) first = e;
  }
  return first;
}

/* Appends s to buf (used bytes so far) without splitting a UTF-8 character. */
static size_t append(char *buf, size_t size, size_t used, const char *s) {
  size_t l = strlen(s);
  if (used + l + 1 > size) {
    l = size - 1 - used;
    while (l > 0 && ((unsigned char)s[l] & 0xC0) == 0x80) l--;
  }
  memcpy(buf + used, s, l);
  buf[used + l] = '\0';
  return used + l;
}

/* 1 when name is one of the " | "-separated keywords. */
static int has_keyword(const char *keywords, const char *name) {
  size_t ln = strlen(name);
  for (const char *p = keywords; *p;) {
    const char *bar = strstr(p, " | ");
    size_t l = bar ? (size_t)(bar - p) : strlen(p);
    if (l == ln && strncmp(p, name, l) == 0) return 1;
    if (!bar) break;
    p = bar + 3;
  }
  return 0;
}

char *gm_emoji_text(const gm_emoji_annotation *ann, const char *fallback, char *buf,
                    size_t size) {
  if (!size) return buf;
  buf[0] = '\0';
  const char *kw = ann ? ann->keywords : "", *name = ann ? ann->name : "";
  if (!*kw && !*name) {
    append(buf, size, 0, fallback ? fallback : "");
    return buf;
  }
  size_t used = append(buf, size, 0, *kw ? kw : name);
  if (*kw && *name && !has_keyword(kw, name) && used + 3 + strlen(name) < size) {
    used = append(buf, size, used, " | ");
    append(buf, size, used, name);
  }
  return buf;
}
