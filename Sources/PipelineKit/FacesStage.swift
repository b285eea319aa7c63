import COpenCVShim
import FeatureStore
import Foundation
import MediaIO
import Models

/// One detected face in a frame's pixels: box x1, y1, x2, y2, the detector's probability, and five landmarks
/// (eyes, nose, mouth corners) as x, y pairs.
public struct FaceBox: Sendable, Equatable {
    public var box: [Float]
    public var probability: Float
    public var landmarks: [Float]
    public init(box: [Float], probability: Float, landmarks: [Float]) {
        self.box = box; self.probability = probability; self.landmarks = landmarks
    }
    public var area: Float { (box[2] - box[0]) * (box[3] - box[1]) }
}

/// A face detector usable from several threads at once.
public protocol FaceDetector: Sendable {
    func detect(_ frame: RGBFrame) throws -> [FaceBox]
}

/// `faces`: per sampled frame, the chosen face (largest by default, or most probable) as a crop with
/// facenet-pytorch's `extract_face` semantics, with its box, probability and landmarks. A frame with no face is a
/// row with `frame_valid` 0 (zero crop and box), not a failure. Detector: MTCNN (facenet-pytorch-exact, weights
/// converted by Tools/fetch_mtcnn.sh) or OpenCV's Haar cascade (FER-2013 style with `crop: gray`, `size: 48`).
public enum FacesStage: StageKind {
    public static let kind = "faces"
    public static let version = 1
    public static let input = StageInput.upstream
    public static let requiredUpstreamKind: String? = FramesStage.kind
    public static let paramSchema: [String: ParamSpec] = [
        "detector": ParamSpec(.string, .string("mtcnn"), allowed: ["mtcnn", "haar"], help: "mtcnn or haar"),
        "model": ParamSpec(.path, .string("Tools/.downloads/mtcnn"), help: "MTCNN weights folder (pnet/rnet/onet.safetensors)"),
        "cascade": ParamSpec(.path, .string("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"),
                             help: "Haar cascade XML (detector haar)"),
        "select": ParamSpec(.string, .string("largest"), allowed: ["largest", "probability"],
                            help: "which face of a frame: largest box, or highest probability"),
        "margin": ParamSpec(.int, .int(0), help: "margin in pixels of the crop (facenet-pytorch semantics)"),
        "size": ParamSpec(.int, .int(160), help: "crop side in pixels"),
        "crop": ParamSpec(.string, .string("rgb"), allowed: ["rgb", "gray"], help: "rgb (3 channels) or gray (1)"),
        "min_face_size": ParamSpec(.int, .int(20), help: "smallest face searched for, in pixels"),
        "haar_scale_factor": ParamSpec(.double, .double(1.1), help: "detectMultiScale scale factor (detector haar)"),
        "haar_min_neighbors": ParamSpec(.int, .int(5), help: "detectMultiScale minNeighbors (detector haar)"),
    ]

    public static func validate(_ p: Params) -> String? {
        if !(8...1024).contains(p.int("size")) { return "size must be between 8 and 1024 pixels" }
        if p.int("margin") < 0 || p.int("margin") >= p.int("size") { return "margin must be between 0 and size - 1" }
        if p.int("min_face_size") < 1 { return "min_face_size must be at least 1" }
        if p.double("haar_scale_factor") <= 1 { return "haar_scale_factor must be greater than 1" }
        return nil
    }

    static let howToGet = "Convert facenet-pytorch's MTCNN weights with `Tools/fetch_mtcnn.sh` (run by Tools/setup.sh)."

    public static func make(_ spec: StageSpec, upstream: [StageSpec], environment: StageEnvironment) throws -> StageRunner {
        let p = spec.params
        let detector: FaceDetector
        var attributes: [String: String] = ["detector": p.string("detector")]
        var identity = p
        switch p.string("detector") {
        case "haar":
            let url = environment.resolve(p.string("cascade"))
            do { detector = try HaarFaceDetector(cascade: url, scaleFactor: p.double("haar_scale_factor"),
                                                 minNeighbors: p.int("haar_min_neighbors"), minSize: p.int("min_face_size")) } catch {
                throw ConfigurationError("stage `\(spec.name)`: \(error) (install opencv-data, or --set \(spec.name).cascade=FILE)")
            }
            let hash = try environment.contentHash(url)
            attributes["cascade"] = url.path
            attributes["cascade_sha256"] = hash
            identity = Params(p.values.merging(["cascade": .string("sha256:" + hash)]) { $1 })
        default:
            let folder = try ModelFolder.resolve(stage: spec.name, path: p.string("model"), environment: environment,
                                                 standIn: "mtcnn", files: MTCNNFaceDetector.files, howToGet: howToGet)
            do { detector = try MTCNNFaceDetector(folder: folder.url, minFaceSize: p.int("min_face_size")) } catch {
                throw ConfigurationError("stage `\(spec.name)`: cannot load the MTCNN weights in \(folder.url.path): \(error). \(howToGet)")
            }
            attributes.merge(folder.attributes) { $1 }
            identity = Params(p.values.merging(["model": .string("sha256:" + folder.hash)]) { $1 })
        }
        return Runner(name: spec.name, params: p, detector: detector, identity: identity.canonicalJSON, extra: attributes)
    }

    final class Runner: StageRunner, @unchecked Sendable {
        let name: String
        let detector: FaceDetector
        let size: Int, margin: Int, channels: Int
        let selectLargest: Bool
        let identity: String
        let extra: [String: String]

        init(name: String, params p: Params, detector: FaceDetector, identity: String, extra: [String: String]) {
            self.name = name
            self.detector = detector
            size = p.int("size")
            margin = p.int("margin")
            channels = p.string("crop") == "gray" ? 1 : 3
            selectLargest = p.string("select") == "largest"
            self.identity = identity
            self.extra = extra
        }

        var paramsIdentity: String? { identity }

        var output: OutputSchema? {
            OutputSchema(sequenceRowShape: [size, size, channels], perItemInts: ["n_frames", "n_faces"], chunkRows: 1,
                         sequenceType: .uint8,
                         rowColumns: [RowColumn("boxes", .float32, [4]), RowColumn("probs", .float32),
                                      RowColumn("landmarks", .float32, [5, 2]), RowColumn("frame_index", .int32),
                                      RowColumn("frame_time", .float32), RowColumn("frame_valid", .uint8)])
        }

        var attributes: [String: String] {
            var a = extra
            a["axes"] = "values[frame, y, x, channel] uint8 crop of the chosen face; boxes[frame] = x1, y1, x2, y2 in pixels of "
                + "the decoded frame; landmarks[frame, point, xy]; frame_valid 0 where the frame has no face (zero crop)"
            a["crop"] = "facenet-pytorch extract_face: margin \(margin), box clamped to the frame, cropped, resized to \(size)x\(size) "
                + "with OpenCV INTER_AREA arithmetic" + (channels == 1 ? ", then PIL convert('L') luma" : "")
            return a
        }

        func run(_ item: ItemContext) throws -> StageValue {
            let frames = try item.upstreamFrames(of: name)
            var crops: [UInt8] = [], boxes: [Float] = [], probs: [Float] = [], marks: [Float] = []
            var index: [Int32] = [], time: [Float] = [], valid: [UInt8] = []
            var rows = 0, found = 0
            try frames.forEach { frame in
                let faces: [FaceBox]
                do { faces = try detector.detect(frame) } catch {
                    throw ItemFailure(reason: "face_detector_error", message: "\(name): frame \(frame.index): \(error)")
                }
                let chosen = selectLargest ? faces.max { $0.area < $1.area } : faces.max { $0.probability < $1.probability }
                rows += 1
                index.append(Int32(frame.index)); time.append(Float(frame.time))
                if let face = chosen {
                    found += 1
                    crops += try FaceCrop.extract(frame, box: face.box, size: size, margin: margin, gray: channels == 1)
                    boxes += face.box; probs.append(face.probability); marks += face.landmarks
                    valid.append(1)
                } else {
                    crops += [UInt8](repeating: 0, count: size * size * channels)
                    boxes += [0, 0, 0, 0]; probs.append(0); marks += [Float](repeating: 0, count: 10)
                    valid.append(0)
                }
            }
            var f = ItemFeature()
            f.sequenceBytes = crops
            f.sequenceRows = rows
            f.rowColumns = ["boxes": .float32(boxes), "probs": .float32(probs), "landmarks": .float32(marks),
                            "frame_index": .int32(index), "frame_time": .float32(time), "frame_valid": .uint8(valid)]
            f.perItemInts = ["n_frames": Int64(rows), "n_faces": Int64(found)]
            return .faces(FaceCrops(size: size, channels: channels, crops: crops, valid: valid, frameIndex: index, frameTime: time), f)
        }
    }
}

/// The face crops of one item, handed to stages after faces (clip on faces).
public struct FaceCrops: Sendable {
    public var size: Int
    public var channels: Int
    /// `[rows, size, size, channels]` uint8.
    public var crops: [UInt8]
    public var valid: [UInt8]
    public var frameIndex: [Int32]
    public var frameTime: [Float]
}

/// facenet-pytorch `extract_face` for an array image (`MTCNN.extractFace`): the margin scaled to the box, the box
/// widened, clamped to the frame and truncated, cut out and resized with OpenCV's INTER_AREA arithmetic; for gray
/// crops, PIL `convert("L")` luma of that crop.
public enum FaceCrop {
    public static func extract(_ frame: RGBFrame, box: [Float], size: Int, margin: Int, gray: Bool) throws -> [UInt8] {
        let image = try RGBImage(width: frame.width, height: frame.height, pixels: frame.pixels)
        let face = try MTCNN.extractFace(image: image, box: FaceDetection.Box(x1: box[0], y1: box[1], x2: box[2], y2: box[3]),
                                         size: size, margin: Double(margin))
        return gray ? MTCNN.grayscale(face, size: size) : face.pixels
    }
}

/// Errors from the OpenCV shim, with OpenCV's own message.
enum OpenCV {
    struct Failure: Error, CustomStringConvertible { var description: String }
}

/// OpenCV's Haar cascade face detector. One cascade per thread (OpenCV's classifier is not safe to share).
final class HaarFaceDetector: FaceDetector, @unchecked Sendable {
    /// Owns one `cvshim_cascade`.
    final class Cascade {
        let handle: OpaquePointer
        init(_ url: URL) throws {
            var err = [CChar](repeating: 0, count: 512)
            guard let h = cvshim_cascade_load(url.path, &err, err.count) else {
                throw OpenCV.Failure(description: "cannot load the Haar cascade \(url.path): " + String(cString: err))
            }
            handle = h
        }
        deinit { cvshim_cascade_free(handle) }
    }

    let url: URL
    let scaleFactor: Double, minNeighbors: Int, minSize: Int
    private let lock = NSLock()
    private var pool: [Cascade] = []

    init(cascade url: URL, scaleFactor: Double, minNeighbors: Int, minSize: Int) throws {
        self.url = url
        self.scaleFactor = scaleFactor
        self.minNeighbors = minNeighbors
        self.minSize = minSize
        pool.append(try Cascade(url))
    }

    func detect(_ frame: RGBFrame) throws -> [FaceBox] {
        lock.lock()
        let pooled = pool.popLast()
        lock.unlock()
        let cascade = try pooled ?? Cascade(url)
        defer { lock.lock(); pool.append(cascade); lock.unlock() }
        var boxes = [Int32](repeating: 0, count: 4 * 64)
        var err = [CChar](repeating: 0, count: 512)
        let n = cvshim_cascade_detect(cascade.handle, frame.pixels, Int32(frame.width), Int32(frame.height), scaleFactor,
                                      Int32(minNeighbors), Int32(minSize), &boxes, 64, &err, err.count)
        if n < 0 { throw OpenCV.Failure(description: "OpenCV: " + String(cString: err)) }
        return (0..<min(Int(n), 64)).map { i in
            let x = Float(boxes[4 * i]), y = Float(boxes[4 * i + 1]), w = Float(boxes[4 * i + 2]), h = Float(boxes[4 * i + 3])
            return FaceBox(box: [x, y, x + w, y + h], probability: 1, landmarks: [Float](repeating: 0, count: 10))
        }
    }
}
