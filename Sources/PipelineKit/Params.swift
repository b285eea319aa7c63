import Foundation

/// One stage parameter's value, as written in a pipeline file or with `--set`.
public enum ParamValue: Hashable, Sendable, CustomStringConvertible {
    case int(Int), double(Double), string(String), bool(Bool), null

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return ParamValue.canonicalDouble(v)
        case .string(let v): return v
        case .bool(let v): return v ? "true" : "false"
        case .null: return "null"
        }
    }

    /// Canonical JSON text: the same value always hashes the same (1.0 and 1 are the same double).
    var canonicalJSON: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return ParamValue.canonicalDouble(v)
        case .string(let v):
            let data = try! JSONSerialization.data(withJSONObject: [v], options: [.withoutEscapingSlashes])
            let s = String(decoding: data, as: UTF8.self)
            return String(s.dropFirst().dropLast())
        case .bool(let v): return v ? "true" : "false"
        case .null: return "null"
        }
    }

    static func canonicalDouble(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) + ".0" }
        return "\(v)"
    }

    public var intValue: Int? {
        switch self {
        case .int(let v): return v
        case .double(let v) where v == v.rounded(): return Int(v)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v
        default: return nil
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var isNull: Bool { self == .null }

    /// Parses a `--set` value the way YAML would: integers, decimals, true/false, null/none, else a string.
    public static func parseCommandLine(_ text: String) -> ParamValue {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch t.lowercased() {
        case "null", "none", "~": return .null
        case "true", "yes": return .bool(true)
        case "false", "no": return .bool(false)
        default: break
        }
        if let i = Int(t) { return .int(i) }
        if let d = Double(t), t.rangeOfCharacter(from: .letters) == nil || t.lowercased().contains("e") { return .double(d) }
        return .string(t)
    }
}

/// The type a stage declares for one of its parameters.
public enum ParamType: String, Sendable {
    case int, double, string, bool, path
}

/// A declared parameter: its type, default, whether null is allowed, and a one-line meaning for error messages.
public struct ParamSpec: Sendable {
    public var type: ParamType
    public var defaultValue: ParamValue
    public var nullable: Bool
    public var help: String
    public var allowed: [String]?

    public init(_ type: ParamType, _ defaultValue: ParamValue, nullable: Bool = false, allowed: [String]? = nil,
                help: String) {
        self.type = type
        self.defaultValue = defaultValue
        self.nullable = nullable
        self.allowed = allowed
        self.help = help
    }

    /// Checks and normalises a value (an int given for a double becomes a double). Returns nil when it does not fit.
    func coerce(_ value: ParamValue) -> ParamValue? {
        if value.isNull { return nullable ? .null : nil }
        switch type {
        case .int: return value.intValue.map(ParamValue.int)
        case .double: return value.doubleValue.map(ParamValue.double)
        case .bool: return value.boolValue.map(ParamValue.bool)
        case .string, .path:
            let s: String?
            switch value {
            case .string(let v): s = v
            case .int, .double: s = value.description
            default: s = nil
            }
            guard let s else { return nil }
            if let allowed, !allowed.contains(s) { return nil }
            return .string(s)
        }
    }
}

/// A stage's resolved parameters (defaults filled in, types checked), with a canonical form for fingerprints.
public struct Params: Hashable, Sendable, CustomStringConvertible {
    public private(set) var values: [String: ParamValue]

    public init(_ values: [String: ParamValue]) { self.values = values }

    public subscript(_ name: String) -> ParamValue { values[name] ?? .null }

    public func int(_ name: String) -> Int { self[name].intValue ?? 0 }
    public func double(_ name: String) -> Double { self[name].doubleValue ?? 0 }
    public func optionalDouble(_ name: String) -> Double? { self[name].doubleValue }
    public func string(_ name: String) -> String { self[name].stringValue ?? "" }

    /// `{"a":1,"b":2.0}` with sorted keys: the form hashed into fingerprints and stored in HDF5 attributes.
    public var canonicalJSON: String {
        "{" + values.keys.sorted().map { "\(ParamValue.string($0).canonicalJSON):\(values[$0]!.canonicalJSON)" }
            .joined(separator: ",") + "}"
    }

    public var description: String { canonicalJSON }
}
