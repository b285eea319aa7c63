import Foundation
import Models
import TestSupport
import XCTest

/// The two resamplers against their references on random images (`resize_cases.*`, no weights needed):
/// cv2.resize INTER_AREA (OpenCV 5.0) and torch interpolate(mode="area"). Tolerance: none, both are bit-exact.
final class MTCNNResamplingTests: XCTestCase {
    struct Case: Decodable {
        var kind: String
        var src: [Int]      // width, height, channels
        var dst: [Int]      // width, height
        var src_offset: Int
        var dst_offset: Int // bytes into resize_cases.u8 (cv2_area) or floats into resize_cases.f32 (torch_area)
    }

    func testAgainstOpenCVAndTorch() throws {
        let cases = try Golden.json([Case].self, MTCNNFixtures.url("resize_cases.json"))
        let bytes = try MTCNNFixtures.bytes("resize_cases.u8")
        let floats = try Golden.floats(MTCNNFixtures.url("resize_cases.f32"))
        var checked = (cv2: 0, torch: 0)
        for c in cases {
            let (w, h, cn) = (c.src[0], c.src[1], c.src[2]), (dw, dh) = (c.dst[0], c.dst[1])
            let src = Array(bytes[c.src_offset..<(c.src_offset + w * h * cn)])
            let label = "\(c.kind) \(w)x\(h)x\(cn) → \(dw)x\(dh)"
            switch c.kind {
            case "cv2_area":
                let expected = Array(bytes[c.dst_offset..<(c.dst_offset + dw * dh * cn)])
                let got = MTCNN.resizeInterArea(src, width: w, height: h, channels: cn, toWidth: dw, toHeight: dh)
                let diff = zip(got, expected).filter { $0 != $1 }.count
                XCTAssertEqual(diff, 0, "\(label): \(diff) bytes differ")
                checked.cv2 += 1
            case "torch_area":
                // The golden is NCHW [3, dh, dw]; ours is HWC.
                let got = MTCNN.areaAverage(try RGBImage(width: w, height: h, pixels: src), width: dw, height: dh)
                var diff = 0
                for ch in 0..<3 {
                    for y in 0..<dh {
                        for x in 0..<dw {
                            if got[(y * dw + x) * 3 + ch] != floats[c.dst_offset + (ch * dh + y) * dw + x] { diff += 1 }
                        }
                    }
                }
                XCTAssertEqual(diff, 0, "\(label): \(diff) values differ")
                checked.torch += 1
            default:
                XCTFail("unknown case kind \(c.kind)")
            }
        }
        print("resamplers: \(checked.cv2) OpenCV INTER_AREA cases, \(checked.torch) torch area cases, all bit-exact")
        XCTAssertGreaterThan(checked.cv2, 5)
        XCTAssertGreaterThan(checked.torch, 3)
    }

    func testLumaMatchesPillow() {
        // PIL convert("L") values for a few pixels: (19595 R + 38470 G + 7471 B + 32768) >> 16.
        let face = try! RGBImage(width: 2, height: 1, pixels: [255, 255, 255, 10, 200, 30])
        let gray = MTCNN.grayscale(face, size: 2)   // 2×1 → 2×2 enlarges rows: each column repeated
        XCTAssertEqual(gray, [255, 124, 255, 124])
    }
}
