import Foundation

/// An 8-bit RGB image: `height` rows of `width` × 3 bytes (red, green, blue), top row first, no padding between
/// rows, the layout of a numpy `uint8` array `[height, width, 3]` and of `RGBFrame.pixels`.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width · height · 3` bytes.
    public let pixels: [UInt8]

    /// - Throws: `ModelError.invalidInput` when `pixels.count != width · height · 3` or a side is negative.
    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width >= 0, height >= 0, pixels.count == width * height * 3 else {
            throw ModelError.invalidInput("an RGB image of \(width)x\(height) needs \(max(0, width * height * 3)) bytes, "
                                          + "got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// For callers that built `pixels` to size themselves.
    init(unchecked width: Int, _ height: Int, _ pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}
