import Foundation

/// Errors from loading a model folder or running a model, beyond the tensor-level `WeightsError`s of the Tensor
/// module (missing, unused, wrongly shaped tensors), which model loading passes through unchanged.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    /// A file the model needs is not there (e.g. `config.json` in a folder that does not exist).
    case missingFile(path: String)
    /// `config.json` could not be parsed, or holds values that contradict each other.
    case invalidConfig(file: String, reason: String)
    /// `config.json` asks for something this implementation does not do (another activation, relative positions).
    case unsupportedConfig(file: String, key: String, value: String, supported: String)
    /// The inputs given to `forward` do not fit the model (ragged rows, ids out of range, too long).
    case invalidInput(String)

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "\(path): no such file"
        case .invalidConfig(let file, let reason):
            return "\(file): invalid config: \(reason)"
        case .unsupportedConfig(let file, let key, let value, let supported):
            return "\(file): \(key) = \"\(value)\" is not supported (supported: \(supported))"
        case .invalidInput(let reason):
            return "invalid model input: \(reason)"
        }
    }
}
