/* libFuzzer target: any bytes through the PNG decoder must give an image or an error,
 * never a crash, a leak or a sanitizer report. */
#include <stddef.h>
#include <stdint.h>

#include "genmoji/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gm_image img = {0};
  gm_error err;
  if (gm_png_decode(data, size, "fuzz.png", &img, &err) == 0) {
    /* Touch the last pixel so a short buffer shows up under ASan. */
    volatile uint8_t last = img.rgba[(size_t)img.width * img.height * 4 - 1];
    (void)last;
    gm_image_free(&img);
  }
  return 0;
}
