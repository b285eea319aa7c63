#ifndef COPENCVSHIM_H
#define COPENCVSHIM_H
/// A plain C face over the parts of OpenCV 4.6 the pipeline uses. No C++ type crosses this header;
/// every function catches OpenCV's exceptions and returns a non-zero code with OpenCV's own message.
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/// OpenCV's version string, e.g. "4.6.0".
const char *cvshim_version(void);

/// Resizes a packed 8-bit image (`channels` 1 or 3, rows of `width*channels` bytes) with `cv::resize`.
/// `interpolation` is OpenCV's flag (1 = INTER_LINEAR, 3 = INTER_AREA).
/// Returns 0 on success; otherwise writes OpenCV's message into `err` (NUL-terminated, `err_size` bytes).
int cvshim_resize_u8(const uint8_t *src, int width, int height, int channels,
                     uint8_t *dst, int out_width, int out_height, int interpolation,
                     char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
