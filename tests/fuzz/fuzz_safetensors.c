/* libFuzzer target for the .safetensors reader: the input is a whole file, opened from
 * memory; every tensor it validates is read into host memory in its dtype family. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/src/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gm_error err = {0};
  gm_checkpoint *c;
  if (gm__checkpoint_open_mem(&c, data, size, "fuzz.safetensors", &err) != 0) {
    if (err.code == 0 || !err.msg[0]) abort(); /* every refusal says why */
    return 0;
  }
  for (int i = 0; i < gm_checkpoint_meta_count(c); i++) {
    const gm_kv *kv = gm_checkpoint_meta_at(c, i);
    if (gm_checkpoint_meta(c, kv->key) == NULL) abort();
  }
  for (int i = 0; i < gm_checkpoint_count(c); i++) {
    const gm_checkpoint_entry *e = gm_checkpoint_entry_at(c, i);
    if (gm_checkpoint_find(c, e->name) != e) abort(); /* names are unique */
    int64_t numel = 1;
    for (int d = 0; d < e->ndim; d++) numel *= e->shape[d];
    /* validated: the bytes lie inside the input, so numel is bounded by its size */
    if ((uint64_t)numel > size) abort();
    int is_float = gm__st_dtype_is_float(c->e[i].dtype);
    void *dst = malloc((size_t)numel * 4 + 4);
    int rc = gm__checkpoint_read_host(c, i, is_float ? GM_F32 : GM_I32, dst, &err);
    if (rc != 0 && rc != GM_ERANGE) abort(); /* data within the input always reads */
    free(dst);
  }
  gm_checkpoint_close(c);
  return 0;
}
