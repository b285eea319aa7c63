import COpenCVShim
import XCTest

final class OpenCVShimTests: XCTestCase {
    func testVersionIsDebians46() {
        XCTAssertTrue(String(cString: cvshim_version()).hasPrefix("4.6"))
    }

    /// INTER_AREA halving averages 2x2 blocks exactly (hand-checked values).
    func testAreaResizeAveragesBlocks() {
        let src: [UInt8] = [0, 2, 10, 20,
                            4, 6, 30, 40,
                            100, 100, 7, 7,
                            100, 100, 7, 9]
        var dst = [UInt8](repeating: 0, count: 4)
        var err = [CChar](repeating: 0, count: 256)
        let rc = cvshim_resize_u8(src, 4, 4, 1, &dst, 2, 2, 3, &err, err.count)
        XCTAssertEqual(rc, 0, String(cString: err))
        XCTAssertEqual(dst, [3, 25, 100, 8])
    }

    func testBadChannelCountIsAnError() {
        var dst = [UInt8](repeating: 0, count: 4)
        var err = [CChar](repeating: 0, count: 256)
        let rc = cvshim_resize_u8([0, 0, 0, 0], 2, 1, 2, &dst, 1, 1, 3, &err, err.count)
        XCTAssertEqual(rc, 1)
        XCTAssertEqual(String(cString: err), "channels must be 1 or 3")
    }
}
