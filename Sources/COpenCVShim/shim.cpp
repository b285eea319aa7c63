// The only C++ in the project: a thin wrapper that turns OpenCV exceptions into return codes.
#include "COpenCVShim.h"
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <vector>
#include <cstring>
#include <exception>

static void cvshim_copy_error(const char *msg, char *err, size_t err_size) {
    if (err == nullptr || err_size == 0) return;
    std::strncpy(err, msg, err_size - 1);
    err[err_size - 1] = '\0';
}

extern "C" const char *cvshim_version(void) { return CV_VERSION; }

extern "C" int cvshim_resize_u8(const uint8_t *src, int width, int height, int channels,
                                uint8_t *dst, int out_width, int out_height, int interpolation,
                                char *err, size_t err_size) {
    try {
        if (channels != 1 && channels != 3) {
            cvshim_copy_error("channels must be 1 or 3", err, err_size);
            return 1;
        }
        const int type = channels == 1 ? CV_8UC1 : CV_8UC3;
        cv::Mat in(height, width, type, const_cast<uint8_t *>(src));
        cv::Mat out(out_height, out_width, type, dst);
        cv::resize(in, out, cv::Size(out_width, out_height), 0, 0, interpolation);
        if (out.data != dst) { // cv::resize reallocated: the caller's buffer had the wrong size
            cvshim_copy_error("output buffer was reallocated", err, err_size);
            return 1;
        }
        return 0;
    } catch (const std::exception &e) {
        cvshim_copy_error(e.what(), err, err_size);
        return 1;
    }
}

struct cvshim_cascade {
    cv::CascadeClassifier classifier;
};

extern "C" cvshim_cascade *cvshim_cascade_load(const char *path, char *err, size_t err_size) {
    try {
        auto *c = new cvshim_cascade();
        if (!c->classifier.load(path)) {
            delete c;
            cvshim_copy_error("cv::CascadeClassifier::load failed (missing or not a cascade XML file)", err, err_size);
            return nullptr;
        }
        return c;
    } catch (const std::exception &e) {
        cvshim_copy_error(e.what(), err, err_size);
        return nullptr;
    }
}

extern "C" void cvshim_cascade_free(cvshim_cascade *cascade) { delete cascade; }

extern "C" int cvshim_cascade_detect(cvshim_cascade *cascade, const uint8_t *rgb, int width, int height,
                                     double scale_factor, int min_neighbors, int min_size,
                                     int *boxes, int max_boxes, char *err, size_t err_size) {
    try {
        cv::Mat in(height, width, CV_8UC3, const_cast<uint8_t *>(rgb));
        cv::Mat gray;
        cv::cvtColor(in, gray, cv::COLOR_RGB2GRAY);
        std::vector<cv::Rect> found;
        cascade->classifier.detectMultiScale(gray, found, scale_factor, min_neighbors, 0, cv::Size(min_size, min_size));
        for (size_t i = 0; i < found.size() && (int)i < max_boxes; i++) {
            boxes[4 * i] = found[i].x;
            boxes[4 * i + 1] = found[i].y;
            boxes[4 * i + 2] = found[i].width;
            boxes[4 * i + 3] = found[i].height;
        }
        return (int)found.size();
    } catch (const std::exception &e) {
        cvshim_copy_error(e.what(), err, err_size);
        return -1;
    }
}
