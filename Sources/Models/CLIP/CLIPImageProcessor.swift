import Foundation
import Tensor

// transformers' slow, PIL-based CLIP image processor — `CLIPImageProcessorPil` in transformers 5
// (models/clip/image_processing_pil_clip.py on `PilBackend` in image_processing_backends.py), which was
// `CLIPImageProcessor` (use_fast=False) in transformers 4 — with the helpers it calls in image_transforms.py
// (get_resize_output_image_size, resize, center_crop, rescale, normalize):
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/clip/image_processing_pil_clip.py
// transformers 5's `CLIPImageProcessor` is the torchvision ("fast") one, whose tensor bicubic differs from PIL's by
// a few levels; this follows the PIL one.

/// `preprocessor_config.json` of a CLIP checkpoint; absent keys take the processor's defaults (those of
/// openai/clip-vit-base-patch32).
public struct CLIPImageProcessorConfig: Decodable, Sendable, Equatable {
    /// The `size` setting of the resize.
    public enum Size: Sendable, Equatable {
        /// `{"shortest_edge": n}` (or a bare `n`, as old configs write it): the short side becomes n, the long side
        /// `int(n · long / short)` (truncated).
        case shortestEdge(Int)
        /// `{"height": h, "width": w}`: exactly this size.
        case exact(width: Int, height: Int)
    }

    public var doResize: Bool                     // do_resize, true
    public var size: Size                         // size, {"shortest_edge": 224}
    public var resample: Int                      // resample, 3 (PIL BICUBIC); 2 (BILINEAR) is also supported
    public var doCenterCrop: Bool                 // do_center_crop, true
    public var cropWidth: Int, cropHeight: Int    // crop_size, {"height": 224, "width": 224} (or a bare 224)
    public var doRescale: Bool                    // do_rescale, true
    public var rescaleFactor: Double              // rescale_factor, 1/255
    public var doNormalize: Bool                  // do_normalize, true
    public var imageMean: [Double]                // image_mean, OPENAI_CLIP_MEAN
    public var imageStd: [Double]                 // image_std, OPENAI_CLIP_STD
    /// do_convert_rgb, true. The inputs here are RGB already, so it changes nothing; kept for completeness.
    public var doConvertRGB: Bool

    /// `OPENAI_CLIP_MEAN` in transformers' image_utils.py.
    public static let openAIMean = [0.48145466, 0.4578275, 0.40821073]
    /// `OPENAI_CLIP_STD` in transformers' image_utils.py.
    public static let openAIStd = [0.26862954, 0.26130258, 0.27577711]

    enum CodingKeys: String, CodingKey {
        case doResize = "do_resize", size, resample, doCenterCrop = "do_center_crop", cropSize = "crop_size"
        case doRescale = "do_rescale", rescaleFactor = "rescale_factor", doNormalize = "do_normalize"
        case imageMean = "image_mean", imageStd = "image_std", doConvertRGB = "do_convert_rgb"
    }

    /// `size` / `crop_size`: a bare integer or a dictionary.
    private struct SizeValue: Decodable {
        var scalar: Int?
        var shortestEdge: Int?, longestEdge: Int?, height: Int?, width: Int?

        enum Keys: String, CodingKey { case shortestEdge = "shortest_edge", longestEdge = "longest_edge", height, width }

        init(from decoder: Decoder) throws {
            if let n = try? decoder.singleValueContainer().decode(Int.self) {
                scalar = n
                return
            }
            let c = try decoder.container(keyedBy: Keys.self)
            shortestEdge = try c.decodeIfPresent(Int.self, forKey: .shortestEdge)
            longestEdge = try c.decodeIfPresent(Int.self, forKey: .longestEdge)
            height = try c.decodeIfPresent(Int.self, forKey: .height)
            width = try c.decodeIfPresent(Int.self, forKey: .width)
        }
    }

    /// `image_mean` / `image_std`: one number for every channel, or one per channel.
    private struct Channels: Decodable {
        var values: [Double]
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let one = try? c.decode(Double.self) { values = [one, one, one] } else { values = try c.decode([Double].self) }
        }
    }

    /// The defaults (openai/clip-vit-base-patch32), overridden by the arguments.
    public init(doResize: Bool = true, size: Size = .shortestEdge(224), resample: Int = PillowFilter.bicubic.rawValue,
                doCenterCrop: Bool = true, cropWidth: Int = 224, cropHeight: Int = 224, doRescale: Bool = true,
                rescaleFactor: Double = 1.0 / 255, doNormalize: Bool = true, imageMean: [Double] = openAIMean,
                imageStd: [Double] = openAIStd, doConvertRGB: Bool = true) {
        self.doResize = doResize
        self.size = size
        self.resample = resample
        self.doCenterCrop = doCenterCrop
        self.cropWidth = cropWidth
        self.cropHeight = cropHeight
        self.doRescale = doRescale
        self.rescaleFactor = rescaleFactor
        self.doNormalize = doNormalize
        self.imageMean = imageMean
        self.imageStd = imageStd
        self.doConvertRGB = doConvertRGB
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CLIPImageProcessorConfig()
        doResize = try c.decodeIfPresent(Bool.self, forKey: .doResize) ?? d.doResize
        resample = try c.decodeIfPresent(Int.self, forKey: .resample) ?? d.resample
        doCenterCrop = try c.decodeIfPresent(Bool.self, forKey: .doCenterCrop) ?? d.doCenterCrop
        doRescale = try c.decodeIfPresent(Bool.self, forKey: .doRescale) ?? d.doRescale
        rescaleFactor = try c.decodeIfPresent(Double.self, forKey: .rescaleFactor) ?? d.rescaleFactor
        doNormalize = try c.decodeIfPresent(Bool.self, forKey: .doNormalize) ?? d.doNormalize
        imageMean = try c.decodeIfPresent(Channels.self, forKey: .imageMean)?.values ?? d.imageMean
        imageStd = try c.decodeIfPresent(Channels.self, forKey: .imageStd)?.values ?? d.imageStd
        doConvertRGB = try c.decodeIfPresent(Bool.self, forKey: .doConvertRGB) ?? d.doConvertRGB
        // get_size_dict: CLIP reads a bare `size` as the shortest edge, a bare `crop_size` as a square.
        size = d.size
        if let s = try c.decodeIfPresent(SizeValue.self, forKey: .size) {
            if let n = s.scalar ?? (s.longestEdge == nil ? s.shortestEdge : nil) {
                size = .shortestEdge(n)
            } else if let h = s.height, let w = s.width {
                size = .exact(width: w, height: h)
            } else {
                throw DecodingError.dataCorruptedError(forKey: .size, in: c, debugDescription:
                    "size must be an integer, {\"shortest_edge\": n} or {\"height\": h, \"width\": w} (longest_edge is not supported)")
            }
        }
        (cropWidth, cropHeight) = (d.cropWidth, d.cropHeight)
        if let s = try c.decodeIfPresent(SizeValue.self, forKey: .cropSize) {
            if let n = s.scalar {
                (cropWidth, cropHeight) = (n, n)
            } else if let h = s.height, let w = s.width {
                (cropWidth, cropHeight) = (w, h)
            } else {
                throw DecodingError.dataCorruptedError(forKey: .cropSize, in: c, debugDescription:
                    "crop_size must be an integer or {\"height\": h, \"width\": w}")
            }
        }
    }

    /// Checks values and supported options.
    func validate(file: String) throws {
        if case .exact(let w, let h) = size, w <= 0 || h <= 0 {
            throw ModelError.invalidConfig(file: file, reason: "size must be positive, got \(w)x\(h)")
        }
        if case .shortestEdge(let n) = size, n <= 0 {
            throw ModelError.invalidConfig(file: file, reason: "size.shortest_edge must be positive, got \(n)")
        }
        guard cropWidth > 0, cropHeight > 0 else {
            throw ModelError.invalidConfig(file: file, reason: "crop_size must be positive, got \(cropWidth)x\(cropHeight)")
        }
        guard imageMean.count == 3, imageStd.count == 3 else {
            throw ModelError.invalidConfig(file: file, reason:
                "image_mean and image_std need 3 values (RGB), got \(imageMean.count) and \(imageStd.count)")
        }
        guard !imageStd.contains(0) else {
            throw ModelError.invalidConfig(file: file, reason: "image_std has a zero: \(imageStd)")
        }
        guard PillowFilter(rawValue: resample) != nil else {
            throw ModelError.unsupportedConfig(file: file, key: "resample", value: "\(resample)",
                                               supported: "2 (bilinear), 3 (bicubic)")
        }
    }
}

/// transformers' PIL-based CLIP image processor, bit-exact: resize (shortest edge, Pillow bicubic on uint8),
/// centre crop, rescale, normalise, to `[B, 3, H, W]` float32 (channels first).
///
/// ```swift
/// let processor = try CLIPImageProcessor(folder: modelFolder)   // or CLIPImageProcessor() for the defaults
/// let frame = try RGBImage(width: 320, height: 180, pixels: bytes)
/// processor.resizedSize(width: 320, height: 180)                 // (398, 224)
/// let pixels = try processor([frame])                           // [1, 3, 224, 224]
/// ```
///
/// Per image, exactly as the Python one does it:
/// 1. Resize (`get_resize_output_image_size` with default_to_square=False): the short side becomes
///    `shortest_edge`, the long side `int(shortest_edge · long / short)`, with Pillow's filter on uint8
///    (`PillowResample`; the same size is a copy).
/// 2. Centre crop (`center_crop`): offsets `(H − h) // 2` and `(W − w) // 2` (floor); a crop larger than the image
///    pads with zeros, the image at offset `ceil((h − H) / 2)`.
/// 3. `float32(float64(v) · rescale_factor)`, then `(x − mean) / std` in float32 per channel — a 256-entry table
///    per channel, so the result is bit-identical to NumPy's.
/// Only the crop window of the resized image is ever computed; each output pixel depends on its own taps only,
/// so the values are the same as resizing everything first.
public struct CLIPImageProcessor: Sendable {
    /// The settings from `preprocessor_config.json`.
    public let config: CLIPImageProcessorConfig
    let filter: PillowFilter
    /// Per channel, the output value of each byte value (rescaled, normalised): `table[c · 256 + v]`.
    let table: [Float]

    /// A processor with `config` (default: openai/clip-vit-base-patch32's).
    /// - Throws: `ModelError.invalidConfig` or `.unsupportedConfig` (another `resample`).
    public init(config: CLIPImageProcessorConfig = CLIPImageProcessorConfig()) throws {
        try self.init(config: config, file: "preprocessor config")
    }

    /// Loads `folder/preprocessor_config.json`.
    /// - Throws: `ModelError.missingFile`, `.invalidConfig` (bad JSON or values), `.unsupportedConfig`.
    public init(folder: URL) throws {
        let url = folder.appendingPathComponent("preprocessor_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw ModelError.missingFile(path: url.path) }
        let config: CLIPImageProcessorConfig
        do {
            config = try JSONDecoder().decode(CLIPImageProcessorConfig.self, from: Data(contentsOf: url))
        } catch {
            throw ModelError.invalidConfig(file: url.path, reason: "\(error)")
        }
        try self.init(config: config, file: url.path)
    }

    private init(config: CLIPImageProcessorConfig, file: String) throws {
        try config.validate(file: file)
        self.config = config
        filter = PillowFilter(rawValue: config.resample)!
        var table = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            let mean = Float(config.imageMean[c]), std = Float(config.imageStd[c])
            for v in 0..<256 {
                // rescale: image.astype(float64) * scale, then .astype(float32); normalize: float32 arithmetic.
                var x = config.doRescale ? Float(Double(v) * config.rescaleFactor) : Float(v)
                if config.doNormalize { x = (x - mean) / std }
                table[c * 256 + v] = x
            }
        }
        self.table = table
    }

    /// The size after the resize step (the input's own size when `do_resize` is off).
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        guard config.doResize else { return (width, height) }
        switch config.size {
        case .exact(let w, let h):
            return (w, h)
        case .shortestEdge(let n):
            // `int(size * long / short)`: Python's int / int true division (correctly rounded), then truncation.
            let short = min(width, height), long = max(width, height)
            let newLong = Int(Double(n * long) / Double(short))
            return width <= height ? (n, newLong) : (newLong, n)
        }
    }

    /// The size of the processed image (the crop size, or the resized size without `do_center_crop`).
    public func outputSize(width: Int, height: Int) -> (width: Int, height: Int) {
        config.doCenterCrop ? (config.cropWidth, config.cropHeight) : resizedSize(width: width, height: height)
    }

    /// Processes a batch into `[B, 3, H, W]`, images in parallel.
    /// - Throws: `ModelError.invalidInput` for an empty batch, or images whose processed sizes differ (possible
    ///   only without `do_center_crop`).
    public func callAsFunction(_ images: [RGBImage]) throws -> Tensor {
        guard let first = images.first else { throw ModelError.invalidInput("no images to process") }
        if let empty = images.firstIndex(where: { $0.width == 0 || $0.height == 0 }) {
            throw ModelError.invalidInput("image \(empty) is empty (\(images[empty].width)x\(images[empty].height))")
        }
        let size = outputSize(width: first.width, height: first.height)
        for (i, image) in images.enumerated() {
            let s = outputSize(width: image.width, height: image.height)
            guard s == size else {
                throw ModelError.invalidInput("image \(i) (\(image.width)x\(image.height)) processes to \(s.width)x"
                                              + "\(s.height), image 0 to \(size.width)x\(size.height): cannot batch them")
            }
        }
        var out = Tensor(shape: [images.count, 3, size.height, size.width], repeating: 0)
        let planeSize = 3 * size.width * size.height
        out.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            CLIPKernels.parallelFor(images.count, workers: ProcessInfo.processInfo.activeProcessorCount) { range in
                for i in range { process(images[i], into: base + i * planeSize) }
            }
        }
        return out
    }

    /// Processes one image into `3 · H · W` floats at `out` (channels first), H × W = `outputSize`.
    public func process(_ image: RGBImage, into out: UnsafeMutablePointer<Float>) {
        let (rw, rh) = resizedSize(width: image.width, height: image.height)
        let (cw, ch) = outputSize(width: image.width, height: image.height)
        // center_crop: top = (H − h) // 2 (floor division, negative when padding), same for left.
        let top = floorDivide(rh - ch, 2), left = floorDivide(rw - cw, 2)
        let rows = max(top, 0)..<min(top + ch, rh), columns = max(left, 0)..<min(left + cw, rw)
        let window = image.pixels.withUnsafeBufferPointer {
            PillowResample.resizeWindow($0.baseAddress!, width: image.width, height: image.height, toWidth: rw,
                                        toHeight: rh, filter: filter, columns: columns, rows: rows)
        }
        let plane = cw * ch
        table.withUnsafeBufferPointer { table in
            window.withUnsafeBufferPointer { window in
                for c in 0..<3 {
                    let lut = table.baseAddress! + c * 256
                    let dst = out + c * plane
                    if rows.count < ch || columns.count < cw { dst.update(repeating: lut[0], count: plane) }  // padding
                    for (i, y) in rows.enumerated() {
                        let src = window.baseAddress! + i * columns.count * 3 + c
                        let d = dst + (y - top) * cw + (columns.lowerBound - left)
                        for x in 0..<columns.count { d[x] = lut[Int(src[3 * x])] }
                    }
                }
            }
        }
    }
}

/// Python's `//` on integers (rounds toward −∞).
@inline(__always)
func floorDivide(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
