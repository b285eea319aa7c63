import Foundation

/// transformers' `Wav2Vec2FeatureExtractor` (the processor of HuBERT and wav2vec 2.0,
/// https://github.com/huggingface/transformers/blob/main/src/transformers/models/wav2vec2/feature_extraction_wav2vec2.py)
/// for one unpadded clip, decoded from `preprocessor_config.json`; absent keys take its defaults.
///
/// ```swift
/// let extractor = try HubertFeatureExtractor.load(from: folder)
/// let input = try extractor(samples, samplingRate: 16000)   // [Float], zero mean and unit variance
/// let out = try model.forward(input)
/// ```
///
/// With `do_normalize` (the default, and hubert-base-ls960's and wav2vec2-base's setting) each clip becomes
/// `(x − mean(x)) / √(var(x) + 1e-7)` (population variance), computed in float32 as numpy does it; otherwise
/// the samples pass through unchanged. Padding and attention masks are not produced: the model runs one clip,
/// or a batch of equal-length clips, without a mask (hubert-base's and wav2vec2-base's `return_attention_mask`
/// is false). Resampling is the caller's job: the input must already be at `sampling_rate` (16 kHz).
public struct HubertFeatureExtractor: Decodable, Sendable, Equatable {
    public var featureExtractorType: String   // feature_extractor_type, "Wav2Vec2FeatureExtractor"
    public var featureSize: Int               // feature_size, 1 (mono samples; the only one supported)
    public var samplingRate: Int              // sampling_rate, 16000 (the only one supported)
    public var paddingValue: Float            // padding_value, 0.0 (unused: clips are not padded here)
    public var doNormalize: Bool              // do_normalize, true
    public var returnAttentionMask: Bool      // return_attention_mask, false (informational: no masks here)

    /// The variance floor of `zero_mean_unit_var_norm`.
    public static let varianceEpsilon: Float = 1e-7

    enum CodingKeys: String, CodingKey {
        case featureExtractorType = "feature_extractor_type", featureSize = "feature_size"
        case samplingRate = "sampling_rate", paddingValue = "padding_value", doNormalize = "do_normalize"
        case returnAttentionMask = "return_attention_mask"
    }

    /// An extractor with `Wav2Vec2FeatureExtractor`'s defaults, overridden by the arguments.
    public init(featureExtractorType: String = "Wav2Vec2FeatureExtractor", featureSize: Int = 1,
                samplingRate: Int = 16000, paddingValue: Float = 0, doNormalize: Bool = true,
                returnAttentionMask: Bool = false) {
        self.featureExtractorType = featureExtractorType
        self.featureSize = featureSize
        self.samplingRate = samplingRate
        self.paddingValue = paddingValue
        self.doNormalize = doNormalize
        self.returnAttentionMask = returnAttentionMask
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = HubertFeatureExtractor()
        featureExtractorType = try c.decodeIfPresent(String.self, forKey: .featureExtractorType) ?? d.featureExtractorType
        featureSize = try c.decodeIfPresent(Int.self, forKey: .featureSize) ?? d.featureSize
        samplingRate = try c.decodeIfPresent(Int.self, forKey: .samplingRate) ?? d.samplingRate
        paddingValue = try c.decodeIfPresent(Float.self, forKey: .paddingValue) ?? d.paddingValue
        doNormalize = try c.decodeIfPresent(Bool.self, forKey: .doNormalize) ?? d.doNormalize
        returnAttentionMask = try c.decodeIfPresent(Bool.self, forKey: .returnAttentionMask) ?? d.returnAttentionMask
    }

    /// Reads and checks `folder/preprocessor_config.json`.
    /// - Throws: `ModelError.missingFile`, `.invalidConfig` (bad JSON), or `.unsupportedConfig` (another
    ///   `feature_extractor_type`, `feature_size` ≠ 1, `sampling_rate` ≠ 16000).
    public static func load(from folder: URL) throws -> HubertFeatureExtractor {
        let url = folder.appendingPathComponent("preprocessor_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { throw ModelError.missingFile(path: url.path) }
        let extractor: HubertFeatureExtractor
        do {
            extractor = try JSONDecoder().decode(HubertFeatureExtractor.self, from: Data(contentsOf: url))
        } catch {
            throw ModelError.invalidConfig(file: url.path, reason: "\(error)")
        }
        try extractor.validate(file: url.path)
        return extractor
    }

    func validate(file: String) throws {
        guard featureExtractorType == "Wav2Vec2FeatureExtractor" else {
            throw ModelError.unsupportedConfig(file: file, key: "feature_extractor_type", value: featureExtractorType,
                                               supported: "Wav2Vec2FeatureExtractor")
        }
        guard featureSize == 1 else {
            throw ModelError.unsupportedConfig(file: file, key: "feature_size", value: "\(featureSize)", supported: "1")
        }
        guard samplingRate == 16000 else {
            throw ModelError.unsupportedConfig(file: file, key: "sampling_rate", value: "\(samplingRate)",
                                               supported: "16000")
        }
    }

    /// The model input for one clip: normalised when `doNormalize`, else the samples unchanged.
    /// - Parameters:
    ///   - samples: mono samples at `samplingRate`.
    ///   - samplingRate: the rate of `samples`; must equal the extractor's (transformers raises the same error).
    /// - Throws: `ModelError.invalidInput` for another sampling rate or no samples.
    public func callAsFunction(_ samples: [Float], samplingRate: Int) throws -> [Float] {
        guard samplingRate == self.samplingRate else {
            throw ModelError.invalidInput("audio at \(samplingRate) Hz, but the model was trained at "
                                          + "\(self.samplingRate) Hz: resample first")
        }
        guard !samples.isEmpty else { throw ModelError.invalidInput("no samples") }
        return doNormalize ? Self.normalize(samples) : samples
    }

    /// `zero_mean_unit_var_norm` for one clip: `(x − μ) / √(σ² + 1e-7)`, σ² the population variance. μ and σ²
    /// are rounded to float32 as numpy's float32 `mean`/`var` return them (accumulated here in Double, so the
    /// result is within an ulp or two of numpy's pairwise float32 sums); the rest is float32 arithmetic.
    public static func normalize(_ samples: [Float]) -> [Float] {
        guard !samples.isEmpty else { return [] }
        let n = Double(samples.count)
        var sum = 0.0
        for x in samples { sum += Double(x) }
        let mean = Float(sum / n)
        var squares = 0.0
        for x in samples {
            let d = Double(x - mean)
            squares += d * d
        }
        let variance = Float(squares / n)
        let std = (variance + varianceEpsilon).squareRoot()
        return samples.map { ($0 - mean) / std }
    }
}
