import Foundation
import Yams

/// A configuration problem the user must fix (exit status 2): the message says what and where.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One stage as the pipeline file declares it, with its parameters resolved against the stage kind's schema.
public struct StageSpec: Sendable {
    public var name: String
    public var kind: String
    public var needs: [String]
    public var params: Params
}

/// A pipeline file (`Pipelines/extract.yaml`) after overrides: the dataset, the shard size, and the stage DAG.
///
/// ```yaml
/// name: extract
/// dataset: { name: meld, root: null, splits: [train, dev, test] }
/// shard_size: 256
/// stages:
///   audio: { kind: audio, params: { sample_rate: 16000 } }
///   mfcc:  { kind: mfcc, needs: [audio], params: { n_mfcc: 13 } }
/// ```
public struct PipelineSpec: Sendable {
    public var name: String
    public var path: URL
    public var datasetName: String
    public var datasetRoot: String?
    public var splits: [String]
    public var shardSize: Int
    /// Stages in a topological order (every stage after the stages it needs).
    public var stages: [StageSpec]

    public func stage(_ name: String) -> StageSpec? { stages.first { $0.name == name } }

    /// Loads and validates a pipeline file, applying `--set STAGE.PARAM=VALUE` overrides.
    /// - Throws: `ConfigurationError` naming the file and the offending key.
    public static func load(from url: URL, overrides: [String] = [], registry: StageRegistry = .standard) throws -> PipelineSpec {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ConfigurationError("cannot read pipeline file \(url.path): \(error.localizedDescription)")
        }
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch {
            throw ConfigurationError("pipeline file \(url.path) is not valid YAML: \(error)")
        }
        guard let doc = root as? [String: Any] else {
            throw ConfigurationError("pipeline file \(url.path) must be a YAML mapping with `name`, `dataset` and `stages`")
        }
        let where_ = url.lastPathComponent
        let name = doc["name"] as? String ?? url.deletingPathExtension().lastPathComponent
        let dataset = doc["dataset"] as? [String: Any] ?? [:]
        let datasetName = dataset["name"] as? String ?? "meld"
        guard datasetName == "meld" else {
            throw ConfigurationError("\(where_): dataset.name `\(datasetName)` is not supported (supported: meld)")
        }
        let datasetRoot = dataset["root"] as? String
        let splits = (dataset["splits"] as? [Any])?.map { "\($0)" } ?? ["train", "dev", "test"]
        let shardSize = (doc["shard_size"] as? Int) ?? 256
        guard shardSize >= 1 else { throw ConfigurationError("\(where_): shard_size must be at least 1") }
        guard let stagesNode = doc["stages"] as? [String: Any], !stagesNode.isEmpty else {
            throw ConfigurationError("\(where_): `stages` must be a non-empty mapping of stage name to its settings")
        }

        // Parse overrides first so unknown stages/params are reported even if the file is fine.
        var overrideMap: [String: [String: ParamValue]] = [:]
        for item in overrides {
            guard let eq = item.firstIndex(of: "="), let dot = item[..<eq].firstIndex(of: ".") else {
                throw ConfigurationError("--set \(item): expected STAGE.PARAM=VALUE, e.g. --set mfcc.n_mfcc=20")
            }
            let stage = String(item[..<dot]), param = String(item[item.index(after: dot)..<eq])
            let value = String(item[item.index(after: eq)...])
            guard stagesNode[stage] != nil else {
                throw ConfigurationError("--set \(item): no stage `\(stage)` in \(where_) (stages: \(stagesNode.keys.sorted().joined(separator: ", ")))")
            }
            overrideMap[stage, default: [:]][param] = ParamValue.parseCommandLine(value)
        }

        var specs: [String: StageSpec] = [:]
        for (stageName, node) in stagesNode {
            let settings = node as? [String: Any] ?? [:]
            let kind = settings["kind"] as? String ?? stageName
            guard let kindType = registry.kinds[kind] else {
                throw ConfigurationError("\(where_): stage `\(stageName)` has unknown kind `\(kind)` (known: \(registry.kinds.keys.sorted().joined(separator: ", ")))")
            }
            let needs = (settings["needs"] as? [Any])?.map { "\($0)" } ?? []
            var raw: [String: ParamValue] = [:]
            for (k, v) in settings["params"] as? [String: Any] ?? [:] { raw[k] = yamlValue(v) }
            for (k, v) in overrideMap[stageName] ?? [:] { raw[k] = v }
            var resolved: [String: ParamValue] = [:]
            let schema = kindType.paramSchema
            for (k, v) in raw {
                guard let spec = schema[k] else {
                    throw ConfigurationError("stage `\(stageName)`: unknown parameter `\(k)` (known: \(schema.keys.sorted().joined(separator: ", ")))")
                }
                guard let c = spec.coerce(v) else {
                    let allowed = spec.allowed.map { " (one of \($0.joined(separator: ", ")))" } ?? ""
                    throw ConfigurationError("stage `\(stageName)`: parameter `\(k)` = \(v) is not a valid \(spec.type.rawValue)\(spec.nullable ? " or null" : "")\(allowed): \(spec.help)")
                }
                resolved[k] = c
            }
            for (k, spec) in schema where resolved[k] == nil { resolved[k] = spec.defaultValue }
            let params = Params(resolved)
            if let problem = kindType.validate(params) {
                throw ConfigurationError("stage `\(stageName)`: \(problem)")
            }
            specs[stageName] = StageSpec(name: stageName, kind: kind, needs: needs, params: params)
        }
        for spec in specs.values {
            for need in spec.needs where specs[need] == nil {
                throw ConfigurationError("\(where_): stage `\(spec.name)` needs `\(need)`, which is not a stage of this pipeline")
            }
            let required = registry.kinds[spec.kind]!.requiredUpstreamKind
            if let required, !spec.needs.contains(where: { specs[$0]?.kind == required }) {
                throw ConfigurationError("\(where_): stage `\(spec.name)` (kind \(spec.kind)) must list a `\(required)` stage in `needs`")
            }
        }
        // Topological order; a cycle is a configuration error.
        var ordered: [StageSpec] = []
        var state: [String: Int] = [:]   // 1 visiting, 2 done
        func visit(_ n: String, _ path: [String]) throws {
            if state[n] == 2 { return }
            if state[n] == 1 { throw ConfigurationError("\(where_): stages form a cycle: \((path + [n]).joined(separator: " → "))") }
            state[n] = 1
            for d in specs[n]!.needs.sorted() { try visit(d, path + [n]) }
            state[n] = 2
            ordered.append(specs[n]!)
        }
        for n in specs.keys.sorted() { try visit(n, []) }
        return PipelineSpec(name: name, path: url, datasetName: datasetName, datasetRoot: datasetRoot,
                            splits: splits, shardSize: shardSize, stages: ordered)
    }

    /// The named stages plus everything they need, in pipeline order (for `--only`).
    public func closure(of names: [String]) throws -> [StageSpec] {
        var wanted = Set<String>()
        func add(_ n: String) throws {
            guard let s = stage(n) else {
                throw ConfigurationError("no stage `\(n)` in \(path.lastPathComponent) (stages: \(stages.map(\.name).joined(separator: ", ")))")
            }
            if wanted.insert(n).inserted { for d in s.needs { try add(d) } }
        }
        for n in names { try add(n) }
        return stages.filter { wanted.contains($0.name) }
    }

    private static func yamlValue(_ v: Any) -> ParamValue {
        switch v {
        case let b as Bool: return .bool(b)
        case let i as Int: return .int(i)
        case let d as Double: return .double(d)
        case let s as String: return .string(s)
        case is NSNull: return .null
        default: return .string("\(v)")
        }
    }
}
