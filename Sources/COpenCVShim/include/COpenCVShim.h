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

/// A loaded `cv::CascadeClassifier` (Haar or LBP cascade XML). Not thread-safe: one caller at a time.
typedef struct cvshim_cascade cvshim_cascade;

/// Loads a cascade XML file. Returns NULL and writes the reason into `err` when it cannot be loaded.
cvshim_cascade *cvshim_cascade_load(const char *path, char *err, size_t err_size);

/// Frees a cascade from `cvshim_cascade_load` (NULL is ignored).
void cvshim_cascade_free(cvshim_cascade *cascade);

/// Detects objects in a packed RGB24 image: converts to grayscale (`cv::COLOR_RGB2GRAY`), then
/// `detectMultiScale(gray, scale_factor, min_neighbors, 0, Size(min_size, min_size))`.
/// Writes up to `max_boxes` boxes as x, y, width, height into `boxes` (4 ints each), in OpenCV's order.
/// Returns the number of boxes found (may exceed `max_boxes`), or -1 with OpenCV's message in `err`.
int cvshim_cascade_detect(cvshim_cascade *cascade, const uint8_t *rgb, int width, int height,
                          double scale_factor, int min_neighbors, int min_size,
                          int *boxes, int max_boxes, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
