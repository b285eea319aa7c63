import Foundation

/// Two spellings of the start or end of a key that name the same tensor, e.g. a `bert.` prefix or none, or
/// LayerNorm's legacy `.gamma` for `.weight`. Rules apply in both directions; each rule at most once per lookup.
public struct KeyRename: Sendable, Equatable, CustomStringConvertible {
    public enum Position: Sendable, Equatable { case prefix, suffix }
    public let position: Position
    public let a: String
    public let b: String

    /// Keys starting with `a` may be spelled with `b` instead, and the other way round.
    public static func prefix(_ a: String, _ b: String) -> KeyRename { KeyRename(position: .prefix, a: a, b: b) }
    /// Keys ending with `a` may be spelled with `b` instead, and the other way round.
    public static func suffix(_ a: String, _ b: String) -> KeyRename { KeyRename(position: .suffix, a: a, b: b) }
    /// A model prefix that a checkpoint may or may not have (`bert.` from `BertForPreTraining` vs `BertModel`).
    public static func optionalPrefix(_ prefix: String) -> KeyRename { .prefix("", prefix) }

    /// LayerNorm's pre-2019 names: `gamma` = `weight`, `beta` = `bias` (transformers renames them at load).
    public static let gammaBeta: [KeyRename] = [.suffix(".weight", ".gamma"), .suffix(".bias", ".beta")]
    /// `torch.nn.utils.weight_norm` names vs `nn.utils.parametrizations.weight_norm` names (HuBERT's positional conv).
    public static let weightNorm: [KeyRename] = [
        .suffix(".weight_g", ".parametrizations.weight.original0"),
        .suffix(".weight_v", ".parametrizations.weight.original1"),
    ]
    /// Both legacy spellings; the default of `WeightStore`.
    public static let legacy: [KeyRename] = gammaBeta + weightNorm

    public var description: String {
        switch position {
        case .prefix: return "prefix \"\(a)\" ↔ \"\(b)\""
        case .suffix: return "suffix \"\(a)\" ↔ \"\(b)\""
        }
    }

    /// The other spellings of `key` this rule allows.
    func alternatives(of key: String) -> [String] {
        var out: [String] = []
        // An empty side means "present or absent": add it, or strip it, never stack it ("bert.bert.").
        if a.isEmpty {
            switch position {
            case .prefix: return key.hasPrefix(b) ? [String(key.dropFirst(b.count))] : [b + key]
            case .suffix: return key.hasSuffix(b) ? [String(key.dropLast(b.count))] : [key + b]
            }
        }
        switch position {
        case .prefix:
            if key.hasPrefix(a) { out.append(b + key.dropFirst(a.count)) }
            if key.hasPrefix(b) { out.append(a + key.dropFirst(b.count)) }
        case .suffix:
            if key.hasSuffix(a) { out.append(key.dropLast(a.count) + b) }
            if key.hasSuffix(b) { out.append(key.dropLast(b.count) + a) }
        }
        return out.filter { $0 != key }
    }

    /// `key` and every spelling reachable by applying each rule at most once, `key` first, no duplicates.
    static func spellings(of key: String, rules: [KeyRename]) -> [String] {
        var seen: Set<String> = [key]
        var result = [key]
        var frontier: [(key: String, used: Set<Int>)] = [(key, [])]
        while !frontier.isEmpty {
            var next: [(key: String, used: Set<Int>)] = []
            for (k, used) in frontier {
                for (i, rule) in rules.enumerated() where !used.contains(i) {
                    for alt in rule.alternatives(of: k) {
                        if seen.insert(alt).inserted { result.append(alt) }
                        next.append((alt, used.union([i])))
                    }
                }
            }
            frontier = next
        }
        return result
    }
}

/// Strict weight loading: the model takes each tensor by name and shape; at the end `finish()` fails if any float
/// tensor in the file(s) went unused.
///
/// ```swift
/// let w = try WeightStore(url: dir.appendingPathComponent("model.safetensors"),
///                         renames: [.optionalPrefix("bert.")] + KeyRename.legacy, ignoring: ["cls."])
/// let q = try w.take("encoder.layer.0.attention.self.query.weight", shape: [768, 768])
/// let layer = w.scope("encoder.layer.1.attention.self.")
/// let k = try layer.take("key.weight", shape: [768, 768])
/// ...
/// try w.finish()   // "model.safetensors: 2 tensors were not used: ..."
/// ```
///
/// Names are resolved through the rename rules (see `KeyRename`): a name matches a file key if some chain of rules
/// turns one into the other; two matching keys in the files are an error. Integer and bool tensors (`position_ids`)
/// never count as unused. Not thread-safe: load a model on one thread.
public final class WeightStore {
    /// The files, in the order given (sharded checkpoints may span several).
    public let files: [SafeTensorsFile]
    /// The rename rules.
    public let renames: [KeyRename]
    /// File keys starting with any of these are not reported by `finish()` (e.g. `cls.` for BERT's pre-training
    /// heads, `text_model.` for CLIP's text tower).
    public let ignoredPrefixes: [String]
    private var taken: [Set<String>]

    /// A store over already-open files.
    public init(files: [SafeTensorsFile], renames: [KeyRename] = KeyRename.legacy, ignoring: [String] = []) {
        precondition(!files.isEmpty, "WeightStore needs at least one file")
        self.files = files
        self.renames = renames
        ignoredPrefixes = ignoring
        taken = Array(repeating: [], count: files.count)
    }

    /// A store over one open file.
    public convenience init(_ file: SafeTensorsFile, renames: [KeyRename] = KeyRename.legacy, ignoring: [String] = []) {
        self.init(files: [file], renames: renames, ignoring: ignoring)
    }

    /// Opens and maps one safetensors file.
    /// - Throws: `WeightsError.unreadable` or `.malformed`.
    public convenience init(url: URL, renames: [KeyRename] = KeyRename.legacy, ignoring: [String] = []) throws {
        self.init(files: [try SafeTensorsFile(url: url)], renames: renames, ignoring: ignoring)
    }

    private var fileDescription: String { files.map(\.path).joined(separator: ", ") }

    /// The file and key `name` resolves to, or nil when no spelling of it is present.
    /// - Throws: `WeightsError.ambiguousTensor` when several spellings are present.
    public func resolve(_ name: String) throws -> (file: SafeTensorsFile, key: String)? {
        try locate(name).map { (files[$0.file], $0.key) }
    }

    private func locate(_ name: String) throws -> (file: Int, key: String)? {
        var found: [(file: Int, key: String)] = []
        for spelling in KeyRename.spellings(of: name, rules: renames) {
            for (i, file) in files.enumerated() where file.entries[spelling] != nil { found.append((i, spelling)) }
        }
        if found.count > 1 {
            throw WeightsError.ambiguousTensor(file: fileDescription, tensor: name,
                                               candidates: found.map { files.count > 1 ? "\(files[$0.file].path):\($0.key)" : $0.key })
        }
        return found.first
    }

    /// Whether some spelling of `name` is in the files.
    public func contains(_ name: String) -> Bool { ((try? locate(name)) ?? nil) != nil }

    /// The shape of `name` in the file, or nil when absent (for inferring sizes a config does not give).
    public func shape(of name: String) -> [Int]? {
        guard let found = (try? locate(name)) ?? nil else { return nil }
        return files[found.file].entries[found.key]?.shape
    }

    /// Takes a float tensor, checking its shape; marks it used.
    /// - Returns: float32 data (a view of the mapping for aligned F32; converted for F16/BF16).
    /// - Throws: `WeightsError.missingTensor` (listing the spellings tried), `.ambiguousTensor`, `.wrongShape`,
    ///   or `.wrongDType` (an integer tensor, F64, F8).
    public func take(_ name: String, shape: [Int]) throws -> Tensor {
        guard let tensor = try takeIfPresent(name, shape: shape) else {
            throw WeightsError.missingTensor(file: fileDescription, tensor: name,
                                             tried: KeyRename.spellings(of: name, rules: renames))
        }
        return tensor
    }

    /// Like `take`, but nil when no spelling of `name` is present (for optional tensors, e.g. a bias, or a
    /// pre-folded weight instead of weight_g/weight_v).
    public func takeIfPresent(_ name: String, shape: [Int]) throws -> Tensor? {
        guard let found = try locate(name) else { return nil }
        let index = found.file, key = found.key
        let file = files[index]
        let entry = file.entries[key]!
        guard entry.shape == shape else {
            throw WeightsError.wrongShape(file: file.path, tensor: key, got: entry.shape, expected: shape)
        }
        let tensor = try file.tensor(entry)
        taken[index].insert(key)
        return tensor
    }

    /// A view that prepends `prefix` to every name.
    public func scope(_ prefix: String) -> WeightScope { WeightScope(store: self, prefix: prefix) }

    /// Float tensors not taken and not under an ignored prefix, sorted (with the file when there are several).
    public var unusedTensors: [String] {
        var unused: [String] = []
        for (i, file) in files.enumerated() {
            for entry in file.entries.values where entry.dtype.isFloatingPoint && !taken[i].contains(entry.name) {
                if ignoredPrefixes.contains(where: { entry.name.hasPrefix($0) }) { continue }
                unused.append(files.count > 1 ? "\(file.path):\(entry.name)" : entry.name)
            }
        }
        return unused.sorted()
    }

    /// Fails if any float tensor went unused.
    /// - Throws: `WeightsError.unusedTensors` listing them.
    public func finish() throws {
        let unused = unusedTensors
        if !unused.isEmpty { throw WeightsError.unusedTensors(file: fileDescription, tensors: unused) }
    }
}

/// A `WeightStore` seen under a key prefix, e.g. one encoder layer.
public struct WeightScope {
    public let store: WeightStore
    public let prefix: String

    /// `store.take(prefix + name, shape:)`.
    public func take(_ name: String, shape: [Int]) throws -> Tensor { try store.take(prefix + name, shape: shape) }
    /// `store.takeIfPresent(prefix + name, shape:)`.
    public func takeIfPresent(_ name: String, shape: [Int]) throws -> Tensor? {
        try store.takeIfPresent(prefix + name, shape: shape)
    }
    /// `store.contains(prefix + name)`.
    public func contains(_ name: String) -> Bool { store.contains(prefix + name) }
    /// A narrower scope.
    public func scope(_ more: String) -> WeightScope { WeightScope(store: store, prefix: prefix + more) }
}
