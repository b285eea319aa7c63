/// Errors from reading safetensors files and loading model weights. Every case names the file; tensor-level cases
/// name the tensor (as spelled in the file) and say what was found and what was expected.
public enum WeightsError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened, stat'ed or mapped (`errno` text in `reason`).
    case unreadable(file: String, reason: String)
    /// Not a valid safetensors file: truncated, a bad header, offsets past the end, overlaps or holes.
    case malformed(file: String, reason: String)
    /// A tensor the model needs is not in the file under any accepted spelling (`tried`).
    case missingTensor(file: String, tensor: String, tried: [String])
    /// More than one accepted spelling of a name is in the file.
    case ambiguousTensor(file: String, tensor: String, candidates: [String])
    /// Float tensors in the file that the model did not take.
    case unusedTensors(file: String, tensors: [String])
    /// A tensor has another shape than the model expects.
    case wrongShape(file: String, tensor: String, got: [Int], expected: [Int])
    /// A tensor has a dtype that cannot be read as requested.
    case wrongDType(file: String, tensor: String, got: String, expected: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason):
            return "\(file): cannot read: \(reason)"
        case .malformed(let file, let reason):
            return "\(file): not a valid safetensors file: \(reason)"
        case .missingTensor(let file, let tensor, let tried):
            let spellings = tried.count > 1 ? " (tried \(tried.joined(separator: ", ")))" : ""
            return "\(file): tensor \"\(tensor)\" is missing\(spellings)"
        case .ambiguousTensor(let file, let tensor, let candidates):
            return "\(file): tensor \"\(tensor)\" is ambiguous: the file has \(candidates.joined(separator: " and "))"
        case .unusedTensors(let file, let tensors):
            let shown = tensors.prefix(20).joined(separator: ", ")
            let more = tensors.count > 20 ? ", and \(tensors.count - 20) more" : ""
            return "\(file): \(tensors.count) tensor\(tensors.count == 1 ? " was" : "s were") not used: \(shown)\(more)"
        case .wrongShape(let file, let tensor, let got, let expected):
            return "\(file): tensor \"\(tensor)\": got shape \(got), expected \(expected)"
        case .wrongDType(let file, let tensor, let got, let expected):
            return "\(file): tensor \"\(tensor)\": got dtype \(got), expected \(expected)"
        }
    }
}
