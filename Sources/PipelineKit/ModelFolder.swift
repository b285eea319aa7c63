import Foundation
import Tensor

/// A checkpoint folder named by a stage's `model` parameter: where it is, whether a tiny sample model stands in
/// for it, and its content hash (the part of the fingerprint that makes another checkpoint recompute the stage).
struct ModelFolder {
    /// The folder the stage loads.
    var url: URL
    /// The folder the pipeline asked for (differs from `url` when a sample model stands in).
    var requested: URL
    /// True when `url` is a tiny random model from `Samples/models` standing in for a missing checkpoint.
    var isSampleStandIn: Bool
    /// SHA-256 over the names and content hashes of the files that define the model, in name order.
    var hash: String

    /// Resolves `path`; when it does not exist and the dataset is the bundled sample, `Samples/models/<standIn>`
    /// is used instead and said so on stderr.
    /// - Parameters:
    ///   - files: the files that define the model (hashed when present), e.g. config.json, model.safetensors.
    ///   - howToGet: one sentence on getting the real checkpoint, for the error message.
    static func resolve(stage: String, path: String, environment: StageEnvironment, standIn: String,
                        files: [String], howToGet: String) throws -> ModelFolder {
        let requested = environment.resolve(path)
        var url = requested
        var standInUsed = false
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: requested.path, isDirectory: &isDir) || !isDir.boolValue {
            if let samples = environment.sampleModels,
               FileManager.default.fileExists(atPath: samples.appendingPathComponent(standIn).path) {
                url = samples.appendingPathComponent(standIn)
                standInUsed = true
                FileHandle.standardError.write(Data(("note: stage `\(stage)`: no checkpoint at \(requested.path); "
                    + "using the tiny random model \(url.path) bundled for the sample (its features are not "
                    + "meaningful). \(howToGet)\n").utf8))
            } else {
                throw ConfigurationError("stage `\(stage)`: model folder \(requested.path) does not exist. \(howToGet) "
                                         + "Point the pipeline at it with --set \(stage).model=DIR.")
            }
        }
        var h = SHA256()
        for name in files.sorted() {
            let file = url.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: file.path) else { continue }
            let fileHash: String
            do { fileHash = try environment.contentHash(file) } catch {
                throw ConfigurationError("stage `\(stage)`: cannot read \(file.path): \(error)")
            }
            h.update("\(name) \(fileHash)\n")
        }
        return ModelFolder(url: url, requested: requested, isSampleStandIn: standInUsed, hash: h.finalizeHex())
    }

    /// The stage's params as fingerprinted: the model path replaced by the model's content hash.
    func paramsIdentity(_ params: Params, key: String = "model") -> String {
        var values = params.values
        values[key] = .string("sha256:" + hash)
        return Params(values).canonicalJSON
    }

    /// Attributes for the stage's files: where the model came from and its hash.
    var attributes: [String: String] {
        var a = ["model": url.path, "model_sha256": hash]
        if isSampleStandIn {
            a["model_note"] = "tiny random model bundled for the sample, standing in for \(requested.path): not real features"
        }
        return a
    }

    /// `attributes` plus how the encoder's weight products were computed (`ProductPrecision`: float32 sgemm, or
    /// float32 through AMX bfloat16 parts; equally accurate, not bit-identical), for the transformer stages.
    var encoderAttributes: [String: String] {
        var a = attributes
        a["weight_products"] = BLAS.productPrecision.rawValue
        return a
    }
}
