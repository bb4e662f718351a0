/* PNG in and out: any PNG decoded to straight-alpha RGBA8, RGB/RGBA written atomically,
 * and contact-sheet grids for looking at many small images at once. */
#ifndef GENMOJI_IMAGE_H
#define GENMOJI_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "loader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Images wider or taller than this are refused by the decoder. */
#define GM_PNG_MAX_SIDE 4096
/* Colour of the 1-pixel gaps in a grid (opaque dark grey). */
#define GM_GRID_GAP_GREY 0x30

/* Decodes a PNG held in memory (palette, grey, grey+alpha, RGB, RGBA; 1 to 16 bits;
 * interlaced or not; tRNS) to RGBA8. Fills out->width, out->height and out->rgba
 * (malloc'd, width * height * 4 bytes); leaves the name fields alone. `what` names the
 * source in error messages ("path/x.png", "NotoColorEmoji.ttf glyph 123"). Corrupt or
 * truncated data and images over GM_PNG_MAX_SIDE are GM_EFORMAT. On error out->rgba is
 * left untouched and nothing is leaked. */
GM_API int gm_png_decode(const void *data, size_t len, const char *what, gm_image *out,
                         gm_error *err);

/* Reads and decodes a PNG file (errors name the path; a missing file is GM_ENOTFOUND). */
GM_API int gm_png_read(const char *path, gm_image *out, gm_error *err);

/* Writes pixels (height rows of width * channels bytes; channels 3 = RGB, 4 = RGBA) as an
 * 8-bit PNG. Atomic: the data goes to path.tmp-XXXXXX in the same folder, is fsynced and
 * renamed over path, so an existing file is never left half-overwritten. */
GM_API int gm_png_write(const char *path, const uint8_t *pixels, int width, int height,
                        int channels, gm_error *err);

/* Lays n images of width x height (each width * height * channels bytes, channels 3 or 4)
 * out in a grid of `cols` columns (cols <= 0: ceil(sqrt(n)); at most n), row by row, each scaled up
 * `upscale` times by nearest neighbour, with 1-pixel gaps between cells (none around the
 * border) in GM_GRID_GAP_GREY; empty cells of the last row are gap colour too. The sheet
 * is cols * width * upscale + cols - 1 pixels wide, and likewise tall for the rows. */
GM_API int gm_png_write_grid(const char *path, const uint8_t *const *images, int n,
                             int width, int height, int channels, int cols, int upscale,
                             gm_error *err);

/* Frees img->rgba and sets it to NULL (safe on NULL or an image already freed). */
GM_API void gm_image_free(gm_image *img);

#ifdef __cplusplus
}
#endif
#endif
