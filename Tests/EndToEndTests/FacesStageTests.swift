import FeatureStore
import Foundation
import TestSupport
import XCTest

/// The faces stage with MTCNN on real photographs made into lossless RGB video (libx264rgb, crf 0), so the
/// decoded frames are the photographs' exact pixels and the stage's output can be held to facenet-pytorch's
/// goldens (Tools/make_mtcnn_goldens.py): boxes within IoU 0.99, probabilities within 1e-3, landmarks within
/// 1 px, crops byte-equal.
final class FacesStageTests: XCTestCase {
    struct Golden: Decodable {
        var boxes: [[Float]]
        var probs: [Float]
        var landmarks: [[[Float]]]
    }

    static let fixtures = TestPaths.fixture("mtcnn")

    /// `MELD_MTCNN_DIR`, else `Tools/.downloads/mtcnn`, else skip with how to get it.
    func weights() throws -> URL {
        let env = ProcessInfo.processInfo.environment["MELD_MTCNN_DIR"].map { URL(fileURLWithPath: $0) }
        let url = env ?? TestPaths.repoRoot.appendingPathComponent("Tools/.downloads/mtcnn")
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("onet.safetensors").path) else {
            throw XCTSkip("MTCNN weights are not converted: run Tools/fetch_mtcnn.sh (or set MELD_MTCNN_DIR)")
        }
        return url
    }

    func video(from raw: String, width: Int, height: Int, frames: Int, to url: URL) throws {
        try DatasetMaker.ffmpeg(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(width)x\(height)", "-r", "24", "-stream_loop",
                                 String(frames - 1), "-i", Self.fixtures.appendingPathComponent(raw).path,
                                 "-frames:v", String(frames), "-c:v", "libx264rgb", "-crf", "0", "-preset", "ultrafast", url.path])
    }

    /// A train split of two clips: `dia0_utt0` the astronaut (`astronautFrames` frames), `dia0_utt1` the cat (one).
    func photographDataset(_ label: String, astronautFrames: Int) throws -> CLIHarness {
        let root = try TestPaths.makeTempDir(label).appendingPathComponent("MELD.Raw")
        let clips = root.appendingPathComponent("train_splits")
        try FileManager.default.createDirectory(at: clips, withIntermediateDirectories: true)
        try video(from: "astronaut.rgb", width: 512, height: 512, frames: astronautFrames,
                  to: clips.appendingPathComponent("dia0_utt0.mp4"))
        try video(from: "chelsea.rgb", width: 451, height: 300, frames: 1, to: clips.appendingPathComponent("dia0_utt1.mp4"))
        try (DatasetMaker.header + DatasetMaker.row(1, 0, 0) + DatasetMaker.row(2, 0, 1))
            .write(to: root.appendingPathComponent("train_sent_emo.csv"), atomically: true, encoding: .utf8)
        return try CLIHarness(datasetRoot: root, label: label + "-cache")
    }

    /// Intersection over union of two x1, y1, x2, y2 boxes.
    func iou(_ b: [Float], _ g: [Float]) -> Float {
        let ix = max(0, min(b[2], g[2]) - max(b[0], g[0])), iy = max(0, min(b[3], g[3]) - max(b[1], g[1]))
        return ix * iy / ((b[2] - b[0]) * (b[3] - b[1]) + (g[2] - g[0]) * (g[3] - g[1]) - ix * iy)
    }

    func testMTCNNCropsEqualFacenetOnRealPhotographs() throws {
        let weights = try weights()
        let h = try photographDataset("faces", astronautFrames: 11)
        let r = try h.run("run", ["extract", "--only", "faces", "--set", "faces.model=\(weights.path)", "--splits", "train", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)

        let f = try FeatureFile(url: h.cache.appendingPathComponent("meld/faces/train.h5"))
        XCTAssertEqual(try f.readInt64s("offsets"), [0, 2, 3], "frames 0 and 10 of the astronaut clip, frame 0 of the cat")
        XCTAssertEqual(try f.readInt64s("frame_valid"), [1, 1, 0], "the cat has no face: masked, not failed")
        XCTAssertEqual(try f.readInt64s("n_faces"), [2, 0])
        XCTAssertEqual(try f.readInt64s("frame_index"), [0, 10, 0])

        let golden = try TestSupport.Golden.json([String: Golden].self, Self.fixtures.appendingPathComponent("detections.json"))["astronaut"]!
        let boxes = try f.readFloats("boxes"), probs = try f.readFloats("probs"), marks = try f.readFloats("landmarks")
        let crop = try Data(contentsOf: Self.fixtures.appendingPathComponent("astronaut_face0.u8"))
        let values = try f.readColumn("values")
        guard case .uint8(let bytes) = values.data else { return XCTFail("values are not uint8") }
        for row in 0..<2 {
            XCTAssertGreaterThanOrEqual(iou(Array(boxes[(row * 4)..<(row * 4 + 4)]), golden.boxes[0]), 0.99,
                                        "IoU with facenet-pytorch's box")
            XCTAssertEqual(probs[row], golden.probs[0], accuracy: 1e-3)
            let lm = Array(marks[(row * 10)..<(row * 10 + 10)])
            XCTAssertLessThanOrEqual(zip(lm, golden.landmarks[0].flatMap { $0 }).map { abs($0 - $1) }.max()!, 1, "landmarks within 1 px")
            XCTAssertEqual(Array(bytes[(row * 76800)..<((row + 1) * 76800)]), [UInt8](crop), "crop equals facenet-pytorch's extract_face")
        }
        XCTAssertEqual(Array(bytes[(2 * 76800)..<(3 * 76800)]), [UInt8](repeating: 0, count: 76800), "masked frame: zero crop")
        if case .string(let sha)? = f.attributes["model_sha256"] { XCTAssertEqual(sha.count, 64) } else { XCTFail("no model_sha256") }
    }

    /// The Haar cascade alternative finds the astronaut's face too (its box overlaps facenet-pytorch's), with
    /// probability 1 and no landmarks, as documented; the cat stays masked.
    func testHaarCascadeFindsTheFace() throws {
        let h = try photographDataset("haar", astronautFrames: 1)
        let r = try h.run("run", ["extract", "--only", "faces", "--set", "faces.detector=haar", "--splits", "train", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let f = try FeatureFile(url: h.cache.appendingPathComponent("meld/faces/train.h5"))
        XCTAssertEqual(try f.readInt64s("frame_valid"), [1, 0])
        let b = try f.readFloats("boxes"), g: [Float] = [181.1, 62.2, 267.7, 172.1]
        XCTAssertGreaterThan(iou(b, g), 0.5, "Haar box \(Array(b[0..<4])) vs MTCNN's \(g)")
        XCTAssertEqual(try f.readFloats("probs")[0], 1)
    }
}
