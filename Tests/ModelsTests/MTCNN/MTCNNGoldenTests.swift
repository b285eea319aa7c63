import Foundation
import Models
import Tensor
import TestSupport
import XCTest

/// Parity with facenet-pytorch 2.6.0's `MTCNN(keep_all=True).detect(img, landmarks=True)` and `extract_face` on the
/// fixtures of `Tools/make_mtcnn_goldens.py`.
///
/// Tolerances (the networks run as OpenBLAS GEMMs, so their outputs differ from PyTorch's in the last bits):
/// - same number of faces, matched in order; each box within IoU ≥ 0.99 of facenet's;
/// - probabilities within 1e-3; landmarks within 1 pixel on each axis;
/// - `extractFace` on facenet's box: the 160×160 crop byte-identical (tolerance 0: same integer crop box, and
///   cv2's INTER_AREA is reproduced bit for bit); on our own box: at most 2 levels apart per channel where the
///   integer crop box is the same as facenet's (it is, on these fixtures);
/// - the 48×48 grey crop byte-identical.
final class MTCNNGoldenTests: XCTestCase {
    static let boxIoU: Float = 0.99
    static let probabilityTolerance: Float = 1e-3
    static let landmarkTolerance: Float = 1
    static let cropTolerance = 2

    /// Runs `detect` on a fixture and compares with facenet's output; returns our detections.
    @discardableResult
    private func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [FaceDetection] {
        let model = try MTCNNFixtures.requireModel()
        let golden = try XCTUnwrap(MTCNNFixtures.goldens()[name], "no golden for \(name)")
        let image = try MTCNNFixtures.image(name)
        XCTAssertEqual([image.width, image.height], [golden.width, golden.height], file: file, line: line)
        let faces = model.detect(image: image)
        XCTAssertEqual(faces.count, golden.boxes.count, "\(name): face count", file: file, line: line)
        var worstIoU: Float = 1, worstEdge: Float = 0, worstProb: Float = 0, worstPoint: Float = 0
        for (i, face) in faces.enumerated() where i < golden.boxes.count {
            let expected = golden.box(i)
            let iou = face.box.iou(expected)
            worstIoU = min(worstIoU, iou)
            worstEdge = max(worstEdge, abs(face.box.x1 - expected.x1), abs(face.box.y1 - expected.y1),
                            abs(face.box.x2 - expected.x2), abs(face.box.y2 - expected.y2))
            XCTAssertGreaterThanOrEqual(iou, Self.boxIoU, "\(name) face \(i): box \(face.box) vs \(expected)",
                                        file: file, line: line)
            let dp = abs(face.probability - Float(golden.probs[i]))
            worstProb = max(worstProb, dp)
            XCTAssertLessThanOrEqual(dp, Self.probabilityTolerance, "\(name) face \(i): probability \(face.probability) "
                                     + "vs \(golden.probs[i])", file: file, line: line)
            XCTAssertEqual(face.landmarks.count, 5, file: file, line: line)
            for (k, p) in face.landmarks.enumerated() where k < 5 {
                let e = golden.landmarks[i][k]
                let d = max(abs(p.x - Float(e[0])), abs(p.y - Float(e[1])))
                worstPoint = max(worstPoint, d)
                XCTAssertLessThanOrEqual(d, Self.landmarkTolerance, "\(name) face \(i) landmark \(k): \(p) vs \(e)",
                                         file: file, line: line)
            }
        }
        print("\(name): \(faces.count) faces; min IoU \(worstIoU), max box edge error \(worstEdge) px, "
              + "max probability error \(worstProb), max landmark error \(worstPoint) px")
        try checkCrops(name, image: image, golden: golden, faces: faces, file: file, line: line)
        return faces
    }

    private func checkCrops(_ name: String, image: RGBImage, golden: MTCNNFixtures.Golden, faces: [FaceDetection],
                            file: StaticString, line: UInt) throws {
        for crop in golden.crops {
            let expected = try MTCNNFixtures.bytes(crop.file)
            let fromGoldenBox = try MTCNN.extractFace(image: image, box: golden.box(crop.face))
            XCTAssertEqual([fromGoldenBox.width, fromGoldenBox.height], [160, 160], file: file, line: line)
            let (exact, at) = maxDifference(fromGoldenBox.pixels, expected)
            print("\(name) face \(crop.face): crop from facenet's box, max difference \(exact)")
            XCTAssertEqual(exact, 0, "\(crop.file): crop from facenet's box differs at byte \(at)",
                           file: file, line: line)
            guard crop.face < faces.count else { continue }
            let ours = try MTCNN.extractFace(image: image, box: faces[crop.face].box)
            let (d, where_) = maxDifference(ours.pixels, expected)
            print("\(name) face \(crop.face): crop from our box, max difference \(d)")
            XCTAssertLessThanOrEqual(d, Self.cropTolerance, "\(crop.file): crop from our box differs by \(d) at byte "
                                     + "\(where_)", file: file, line: line)
        }
    }

    private func maxDifference(_ a: [UInt8], _ b: [UInt8]) -> (Int, Int) {
        guard a.count == b.count else { return (Int.max, -1) }
        var worst = 0, at = 0
        for i in a.indices where abs(Int(a[i]) - Int(b[i])) > worst {
            worst = abs(Int(a[i]) - Int(b[i]))
            at = i
        }
        return (worst, at)
    }

    func testAstronaut() throws {
        let faces = try check("astronaut")
        XCTAssertEqual(faces.count, 1)
    }

    func testCompositeWithSmallFaces() throws {
        try check("composite")
    }

    func testBenchmarkFrame1280x720() throws {
        try check("composite2x")
    }

    func testCatHasNoFace() throws {
        let faces = try check("chelsea")
        XCTAssertTrue(faces.isEmpty, "a face in the cat picture: \(faces)")
    }

    func testGray48() throws {
        let golden = try XCTUnwrap(MTCNNFixtures.goldens()["astronaut"])
        let crop = try RGBImage(width: 160, height: 160, pixels: MTCNNFixtures.bytes(golden.crops[0].file))
        let gray = MTCNN.grayscale(crop, size: 48)
        XCTAssertEqual(gray, try MTCNNFixtures.bytes("astronaut_face0_gray48.u8"), "48×48 grey crop")
    }

    /// One model, several threads at once: every call gives the single-threaded answer.
    func testConcurrentDetectIsDeterministic() throws {
        let model = try MTCNNFixtures.requireModel()
        let image = try MTCNNFixtures.image("composite")
        let reference = model.detect(image: image)
        XCTAssertFalse(reference.isEmpty)
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var all: [[FaceDetection]] = []
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let faces = model.detect(image: image)
            results.lock.lock()
            results.all.append(faces)
            results.lock.unlock()
        }
        XCTAssertEqual(results.all.count, 4)
        for faces in results.all { XCTAssertEqual(faces, reference) }
    }

    func testTinyAndEmptyImages() throws {
        let model = try MTCNNFixtures.requireModel()
        XCTAssertEqual(model.detect(image: try RGBImage(width: 0, height: 0, pixels: [])), [])
        // Shorter side 19 px: facenet builds no pyramid level (and would fail); no faces here.
        let thin = try RGBImage(width: 40, height: 19, pixels: [UInt8](repeating: 128, count: 40 * 19 * 3))
        XCTAssertEqual(model.detect(image: thin), [])
        XCTAssertEqual(model.pyramidScales(width: 40, height: 19), [])
        XCTAssertEqual(model.pyramidScales(width: 40, height: 20), [0.6])
    }
}
