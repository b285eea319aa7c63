import Foundation
import Tensor

/// MTCNN face detection exactly as facenet-pytorch's `MTCNN(keep_all=True).detect(img, landmarks=True)` does it
/// on a numpy `uint8` frame (`detect_face` in
/// https://github.com/timesler/facenet-pytorch/blob/master/models/utils/detect_face.py, release 2.6.0), and its
/// `extract_face` crop.
///
/// ```swift
/// let mtcnn = try MTCNN(folder: weightsFolder)     // pnet/rnet/onet.safetensors from Tools/fetch_mtcnn.sh
/// let image = try RGBImage(width: frame.width, height: frame.height, pixels: frame.pixels)
/// for face in mtcnn.detect(image: image) {         // largest box first
///     print(face.box, face.probability, face.landmarks)
///     let crop = try MTCNN.extractFace(image: image, box: face.box)   // 160×160 RGB, no standardisation
///     let gray = MTCNN.grayscale(crop, size: 48)                      // 48×48 luma
/// }
/// ```
///
/// The pipeline (facenet's defaults: minimum face 20 px, scale factor 0.709, thresholds 0.6 / 0.7 / 0.7):
/// 1. Scale pyramid `s = 0.6·0.709^i` while `min(h, w)·s ≥ 12`; per scale the frame is area-resized (torch
///    `interpolate(mode="area")`) to `(int(h·s + 1), int(w·s + 1))`, normalised `(v − 127.5)·0.0078125`, and run
///    through PNet; cells with face probability ≥ 0.6 become 12/s-pixel boxes (stride 2/s); NMS (IoU 0.5) per scale,
///    NMS (0.7) over all scales, regression, squaring (`rerec`).
/// 2. Crops (`pad`: truncated, clipped to the frame, never zero-padded) area-resized to 24×24 → RNet; probability
///    > 0.7; NMS 0.7; regression (+1 widths); squaring.
/// 3. Crops → 48×48 → ONet; probability > 0.7; landmarks; regression; NMS 0.7 by intersection over the smaller
///    box. Faces are returned largest box area first.
///
/// Differences from facenet-pytorch: none on the path above. Where facenet would fail (a frame whose shorter side
/// is under 20 px: `torch.cat` of nothing; every crop of a stage empty) this returns no faces, and a candidate
/// whose crop is empty is dropped (facenet would misalign its arrays). Convolutions run as OpenBLAS GEMMs, so
/// network outputs differ from PyTorch's in the last bits (≈1e-6 relative); a score or box edge that lands within
/// that distance of a threshold or an integer cut can then go the other way.
///
/// Thread safety: the weights are read-only after loading; `detect` keeps all state in locals, so one `MTCNN` can
/// serve any number of threads at once.
///
/// Cores: one call spreads its work over the machine. With OpenBLAS at one thread per call (`BLAS.setThreads(1)`,
/// the faster setting here), the pyramid levels (the first level is about half of PNet's work, the others the other
/// half) and the RNet/ONet crop batches run side by side in `cores` lanes of single-threaded GEMMs; with more
/// OpenBLAS threads (its default: all cores) there are `cores / BLAS.threads` lanes, each GEMM threaded by OpenBLAS.
/// Memory: the activations of the largest pyramid level, about 40 MB for a 1280×720 frame (it grows with the area);
/// freed blocks are kept for reuse in a process-wide pool of at most 128 MB (`MTCNNBufferPool`).
public final class MTCNN: Sendable {
    /// facenet-pytorch's `MTCNN(...)` detection arguments.
    public struct Configuration: Sendable, Equatable {
        /// `min_face_size`: the smallest face searched for, in pixels; the pyramid starts at scale 12 / this.
        public var minFaceSize: Double = 20
        /// `thresholds` for PNet (≥), RNet (>) and ONet (>), compared in float32.
        public var thresholds: (Float, Float, Float) = (0.6, 0.7, 0.7)
        /// `factor`: the ratio between pyramid scales.
        public var factor: Double = 0.709

        public init(minFaceSize: Double = 20, thresholds: (Float, Float, Float) = (0.6, 0.7, 0.7),
                    factor: Double = 0.709) {
            self.minFaceSize = minFaceSize
            self.thresholds = thresholds
            self.factor = factor
        }

        public static func == (a: Configuration, b: Configuration) -> Bool {
            a.minFaceSize == b.minFaceSize && a.thresholds == b.thresholds && a.factor == b.factor
        }
    }

    /// The file names `init(folder:)` reads.
    public static let weightFiles = ["pnet.safetensors", "rnet.safetensors", "onet.safetensors"]

    public let configuration: Configuration
    public let pnet: PNet
    public let rnet: RNet
    public let onet: ONet

    /// Crops per RNet / ONet batch (bounds the activations' memory; results do not depend on it).
    static let rnetBatch = 256
    static let onetBatch = 64

    /// Loads `folder/pnet.safetensors`, `rnet.safetensors` and `onet.safetensors` strictly.
    /// - Throws: `ModelError.missingFile` for a missing file; `WeightsError` naming the file and the tensor for a
    ///   missing tensor, a wrong shape or dtype, unused tensors, or a malformed file.
    public convenience init(folder: URL, configuration: Configuration = Configuration()) throws {
        try self.init(pnet: PNet(url: folder.appendingPathComponent(Self.weightFiles[0])),
                      rnet: RNet(url: folder.appendingPathComponent(Self.weightFiles[1])),
                      onet: ONet(url: folder.appendingPathComponent(Self.weightFiles[2])),
                      configuration: configuration)
    }

    public init(pnet: PNet, rnet: RNet, onet: ONet, configuration: Configuration = Configuration()) {
        self.pnet = pnet
        self.rnet = rnet
        self.onet = onet
        self.configuration = configuration
    }

    // MARK: - Detection

    /// The faces in `image`, largest box area first (facenet's `select_largest` order; ties keep the later one
    /// first, as numpy's reversed argsort does).
    public func detect(image: RGBImage) -> [FaceDetection] {
        guard image.width > 0, image.height > 0 else { return [] }
        return image.pixels.withUnsafeBufferPointer { px in
            detect(px.baseAddress!, width: image.width, height: image.height)
        }
    }

    /// The scales of facenet's pyramid for an image of `width × height` (computed in double, as in Python).
    public func pyramidScales(width: Int, height: Int) -> [Double] {
        let m = 12.0 / configuration.minFaceSize
        var minl = Double(min(width, height)) * m
        var scale = m
        var scales: [Double] = []
        while minl >= 12 {
            scales.append(scale)
            scale *= configuration.factor
            minl *= configuration.factor
        }
        return scales
    }

    func detect(_ image: UnsafePointer<UInt8>, width: Int, height: Int) -> [FaceDetection] {
        var boxes = stage1(image, width: width, height: height)
        if boxes.isEmpty { return [] }
        boxes = stage2(image, width: width, height: height, boxes)
        if boxes.isEmpty { return [] }
        var faces = stage3(image, width: width, height: height, boxes)
        // select_largest: np.argsort(area)[::-1]; argsort of a few values is stable, so equal areas end up with
        // the later face first.
        let areas = faces.map(\.box.area)
        let order = faces.indices.sorted { a, b in areas[a] != areas[b] ? areas[a] > areas[b] : a > b }
        faces = order.map { faces[$0] }
        return faces
    }

    /// Splits `costs.count` jobs over `lanes` threads, longest first onto the least loaded lane. Returns each
    /// lane's job indices (ascending).
    static func lanes(_ costs: [Int], lanes: Int) -> [[Int]] {
        let count = max(1, min(lanes, costs.count))
        var load = [Int](repeating: 0, count: count), assigned = [[Int]](repeating: [], count: count)
        for job in costs.indices.sorted(by: { costs[$0] > costs[$1] }) {
            let lane = load.indices.min { load[$0] < load[$1] }!
            load[lane] += costs[job]
            assigned[lane].append(job)
        }
        return assigned.map { $0.sorted() }
    }

    /// How many jobs run side by side: the cores left per OpenBLAS call (`cores / BLAS.threads`), so that lanes
    /// of single-threaded GEMMs and multi-threaded GEMMs do not oversubscribe the cores.
    static var laneCount: Int { max(1, MTCNNParallel.cores / max(1, BLAS.threads)) }

    /// Runs `job(i, parallel)` for every `i` in `0..<costs.count`, the jobs spread over the cores (each job's own
    /// loops then run on one core; with a single lane they may use all cores). Results in job order.
    static func runInLanes<T>(_ costs: [Int], _ job: (Int, Bool) -> T) -> [T?] {
        let lanes = Self.lanes(costs, lanes: laneCount)
        var results = [T?](repeating: nil, count: costs.count)
        if lanes.count <= 1 {
            for i in costs.indices { results[i] = job(i, true) }
            return results
        }
        results.withUnsafeMutableBufferPointer { slots in
            let slots = slots
            DispatchQueue.concurrentPerform(iterations: lanes.count) { lane in
                for i in lanes[lane] { slots[i] = job(i, false) }
            }
        }
        return results
    }

    /// PNet over the pyramid: candidates after both NMS passes, regressed and squared. The scales run side by side
    /// (the first scale is about half the work, the rest the other half).
    func stage1(_ image: UnsafePointer<UInt8>, width: Int, height: Int) -> [MTCNNCandidate] {
        let scales = pyramidScales(width: width, height: height)
        let sizes = scales.map { (h: Int(Double(height) * $0 + 1), w: Int(Double(width) * $0 + 1)) }
        let perScale = Self.runInLanes(sizes.map { $0.h * $0.w }) { i, parallel in
            proposals(image, width: width, height: height, scale: scales[i], size: sizes[i], parallel: parallel)
        }
        let all = perScale.flatMap { $0 ?? [] }
        return mtcnnNMS(all, threshold: 0.7).map { mtcnnRegressPNet(all[$0]) }
    }

    /// One pyramid level: area resize to `size`, PNet, `generateBoundingBox`, NMS 0.5.
    func proposals(_ image: UnsafePointer<UInt8>, width: Int, height: Int, scale: Double, size: (h: Int, w: Int),
                   parallel: Bool) -> [MTCNNCandidate] {
        let input = MTCNNActivations(channels: 3, n: 1, height: size.h, width: size.w, parallel: parallel)
        mtcnnAreaResize(image, imageWidth: width, rect: MTCNNRect(x0: 0, y0: 0, width: width, height: height),
                   outW: size.w, outH: size.h, normalize: true, parallel: parallel, into: input.pointer,
                   pixelStride: 1, channelStride: input.planeCount)
        let out = pnet(input)
        // generateBoundingBox: cells in row-major order; q1 = floor((2·[x, y] + 1) / s),
        // q2 = floor((2·[x, y] + 12) / s), float32 with s rounded to float32.
        let s = Float(scale), threshold = configuration.thresholds.0
        let logitFloor = threshold > 0 && threshold < 1 ? Float(log(Double(threshold) / (1 - Double(threshold)))) - 0.1
                                                         : -Float.infinity
        var found: [MTCNNCandidate] = []
        let plane = out.planeCount
        defer { withExtendedLifetime(out.buffer) {} }
        let l0 = out.pointer, l1 = l0 + plane, r = l0 + 2 * plane
        for y in 0..<out.height {
            for x in 0..<out.width {
                let at = y * out.width + x
                // Most cells are far below the threshold: skip the exponentials when the logits say so (p ≥ t needs
                // l1 − l0 ≥ ln(t / (1 − t)); the margin of 0.1 covers expf's rounding).
                guard l1[at] - l0[at] >= logitFloor else { continue }
                let prob = mtcnnFaceProbability(l0[at], l1[at])
                guard prob >= threshold else { continue }
                let fx = Float(x), fy = Float(y)
                found.append(MTCNNCandidate(x1: ((2 * fx + 1) / s).rounded(.down), y1: ((2 * fy + 1) / s).rounded(.down),
                                       x2: ((2 * fx + 12) / s).rounded(.down), y2: ((2 * fy + 12) / s).rounded(.down),
                                       score: prob, dx1: r[at], dy1: r[plane + at], dx2: r[2 * plane + at],
                                       dy2: r[3 * plane + at]))
            }
        }
        return mtcnnNMS(found, threshold: 0.5).map { found[$0] }
    }

    /// The crops of `boxes` (empty ones dropped) area-resized to `size × size`, normalised and run through `net` in
    /// batches of at most `batch`, the batches spread over the cores. Returns the candidates that had a crop and,
    /// for each, its `outputs` network outputs (row i of the result belongs to candidate i).
    private func runCrops(_ image: UnsafePointer<UInt8>, width: Int, height: Int, _ boxes: [MTCNNCandidate], size: Int,
                          batch: Int, outputs: Int,
                          net: (MTCNNActivations) -> MTCNNBuffer) -> ([MTCNNCandidate], [Float]) {
        var kept: [MTCNNCandidate] = [], rects: [MTCNNRect] = []
        for c in boxes {
            if let r = mtcnnCropRect(c, imageWidth: width, imageHeight: height) {
                kept.append(c)
                rects.append(r)
            }
        }
        // Batches of equal size (at most `batch`), at least one per core when there are enough crops.
        let batches = max((kept.count + batch - 1) / batch, min(MTCNNParallel.cores, kept.count / 8), 1)
        let bounds = (0...batches).map { kept.count * $0 / batches }
        let plane = size * size * 3
        let rows = Self.runInLanes((0..<batches).map { bounds[$0 + 1] - bounds[$0] }) { b, parallel -> [Float] in
            let range = bounds[b]..<bounds[b + 1]
            guard !range.isEmpty else { return [] }
            let input = MTCNNActivations(channels: 3, n: range.count, height: size, width: size, parallel: parallel)
            MTCNNParallel.forEachChunk(range.count, costPerItem: plane * 4, enabled: parallel) { part in
                for i in part {
                    mtcnnAreaResize(image, imageWidth: width, rect: rects[range.lowerBound + i], outW: size, outH: size,
                               normalize: true, parallel: false, into: input.pointer + i * size * size,
                               pixelStride: 1, channelStride: input.planeCount)
                }
            }
            let out = net(input)
            return withExtendedLifetime(out) {
                Array(UnsafeBufferPointer(start: out.pointer, count: range.count * outputs))
            }
        }
        return (kept, rows.flatMap { $0 ?? [] })
    }

    /// RNet on 24×24 crops: probability > threshold, NMS 0.7, regression, squaring.
    func stage2(_ image: UnsafePointer<UInt8>, width: Int, height: Int, _ boxes: [MTCNNCandidate]) -> [MTCNNCandidate] {
        var passed: [MTCNNCandidate] = []
        let threshold = configuration.thresholds.1
        let (kept, out) = runCrops(image, width: width, height: height, boxes, size: 24, batch: Self.rnetBatch,
                                   outputs: 6, net: { rnet($0) })
        for (i, c) in kept.enumerated() {
            let row = Array(out[(i * 6)..<(i * 6 + 6)])
            let score = mtcnnFaceProbability(row[0], row[1])
            guard score > threshold else { continue }
            passed.append(MTCNNCandidate(x1: c.x1, y1: c.y1, x2: c.x2, y2: c.y2, score: score,
                                    dx1: row[2], dy1: row[3], dx2: row[4], dy2: row[5]))
        }
        return mtcnnNMS(passed, threshold: 0.7).map { mtcnnRerec(mtcnnBBReg(passed[$0])) }
    }

    /// ONet on 48×48 crops: probability > threshold, landmarks, regression, NMS 0.7 ('Min').
    func stage3(_ image: UnsafePointer<UInt8>, width: Int, height: Int, _ boxes: [MTCNNCandidate]) -> [FaceDetection] {
        var passed: [MTCNNCandidate] = []
        var points: [[FaceDetection.Point]] = []
        let threshold = configuration.thresholds.2
        let (kept, out) = runCrops(image, width: width, height: height, boxes, size: 48, batch: Self.onetBatch,
                                   outputs: 16, net: { onet($0) })
        for (i, c) in kept.enumerated() {
            let row = Array(out[(i * 16)..<(i * 16 + 16)])
            let score = mtcnnFaceProbability(row[0], row[1])
            guard score > threshold else { continue }
            // Landmarks relative to the box before regression: w·l + x1 − 1 with w = x2 − x1 + 1.
            let w = c.x2 - c.x1 + 1, h = c.y2 - c.y1 + 1
            points.append((0..<5).map { k in
                FaceDetection.Point(x: w * row[6 + k] + c.x1 - 1, y: h * row[11 + k] + c.y1 - 1)
            })
            passed.append(mtcnnBBReg(MTCNNCandidate(x1: c.x1, y1: c.y1, x2: c.x2, y2: c.y2, score: score,
                                          dx1: row[2], dy1: row[3], dx2: row[4], dy2: row[5])))
        }
        return mtcnnNMSMin(passed, threshold: 0.7).map {
            FaceDetection(box: passed[$0].box, probability: passed[$0].score, landmarks: points[$0])
        }
    }

    // MARK: - Face crops

    /// facenet-pytorch's `extract_face(img, box, image_size=size, margin=margin)` on a numpy frame, before its
    /// float conversion: the box widened by `margin` pixels of the output (`margin·(x2−x1)/(size−margin)` in the
    /// frame, half each side), clamped to the frame and truncated to integers, cropped, and resized with
    /// `cv2.resize(..., INTER_AREA)` (what facenet uses for np.ndarray input; PIL input would go through PIL's
    /// bilinear resize instead). The pixels are returned as they are: no `fixed_image_standardization`
    /// (`post_process=False`), no prewhitening.
    /// - Returns: a `size × size` RGB image.
    /// - Throws: `ModelError.invalidInput` when the clamped box holds no pixel or `size ≤ margin`.
    public static func extractFace(image: RGBImage, box: FaceDetection.Box, size: Int = 160,
                                   margin: Double = 0) throws -> RGBImage {
        guard size > 0, Double(size) > margin else {
            throw ModelError.invalidInput("extractFace: size \(size) must exceed the margin \(margin)")
        }
        // Python floats: the box values widened to double.
        let (x1, y1, x2, y2) = (Double(box.x1), Double(box.y1), Double(box.x2), Double(box.y2))
        let mx = margin * (x2 - x1) / (Double(size) - margin), my = margin * (y2 - y1) / (Double(size) - margin)
        func int(_ v: Double) -> Int { v.isFinite ? Int(max(-1e9, min(1e9, v)).rounded(.towardZero)) : 0 }
        let cx1 = int(max(x1 - mx / 2, 0)), cy1 = int(max(y1 - my / 2, 0))
        let cx2 = int(min(x2 + mx / 2, Double(image.width))), cy2 = int(min(y2 + my / 2, Double(image.height)))
        guard cx1 < cx2, cy1 < cy2, cx2 <= image.width, cy2 <= image.height else {
            throw ModelError.invalidInput("extractFace: box \(box) holds no pixel of the "
                                          + "\(image.width)x\(image.height) image")
        }
        let pixels = image.pixels.withUnsafeBufferPointer { px in
            mtcnnResizeInterArea(px.baseAddress! + (cy1 * image.width + cx1) * 3, srcW: cx2 - cx1, srcH: cy2 - cy1,
                         srcRowBytes: image.width * 3, channels: 3, dstW: size, dstH: size)
        }
        return RGBImage(unchecked: size, size, pixels)
    }

    /// A face crop as `size × size` 8-bit grey: PIL `convert("L")` luma (ITU-R 601-2,
    /// `(19595 R + 38470 G + 7471 B + 32768) >> 16`) of every pixel, then `cv2.resize(..., INTER_AREA)` to
    /// `size × size` (48 for FER-style expression models).
    /// - Returns: `size · size` bytes, rows top first.
    public static func grayscale(_ face: RGBImage, size: Int = 48) -> [UInt8] {
        precondition(size > 0, "grayscale: size must be positive")
        guard face.width > 0, face.height > 0 else { return [UInt8](repeating: 0, count: size * size) }
        var luma = [UInt8](repeating: 0, count: face.width * face.height)
        face.pixels.withUnsafeBufferPointer { px in
            for i in 0..<luma.count { luma[i] = mtcnnLuma(px[3 * i], px[3 * i + 1], px[3 * i + 2]) }
        }
        return luma.withUnsafeBufferPointer { l in
            mtcnnResizeInterArea(l.baseAddress!, srcW: face.width, srcH: face.height, srcRowBytes: face.width,
                                 channels: 1,
                         dstW: size, dstH: size)
        }
    }
}
