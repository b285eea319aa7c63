import Foundation
import Tensor

/// Timing of `MTCNN.detect`, to compare with facenet-pytorch (`Tools/bench/facenet_mtcnn.py`, which prints the
/// same statistic for `MTCNN(device="cpu").detect` with `torch.set_num_threads(threads)`).
public enum MTCNNBenchmark {
    /// The median wall-clock seconds of one `model.detect(image:)` over `repeats` timed calls, after one untimed
    /// warm-up call.
    ///
    /// Threads: `detect` uses every core; how depends on OpenBLAS's threads per call (see `MTCNN`). One BLAS thread
    /// per call (`blasThreads: 1`) is the fast setting: the pyramid levels and crop batches then run side by side.
    /// - Parameters:
    ///   - blasThreads: if given, `BLAS.setThreads(blasThreads)` for the measurement, the previous value restored
    ///     afterwards (a process-wide setting: do not time while other work uses BLAS); nil keeps the current one.
    public static func timeDetect(model: MTCNN, image: RGBImage, repeats: Int, blasThreads: Int? = nil) -> Double {
        precondition(repeats > 0, "repeats must be positive")
        let previous = BLAS.threads
        if let blasThreads { BLAS.setThreads(blasThreads) }
        defer { if blasThreads != nil { BLAS.setThreads(previous) } }
        _ = model.detect(image: image)
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            let faces = model.detect(image: image)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            withExtendedLifetime(faces) {}
        }
        times.sort()
        let mid = times.count / 2
        return times.count % 2 == 1 ? times[mid] : (times[mid - 1] + times[mid]) / 2
    }
}
