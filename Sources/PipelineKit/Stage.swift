import Datasets
import FeatureStore
import Foundation

/// Why one item failed in one stage: a stable reason code (recorded, listed by `status`) and one clear sentence.
public struct ItemFailure: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var message: String
    public init(reason: String, message: String) { self.reason = reason; self.message = message }
    public var description: String { "\(reason): \(message)" }
}

/// The shape of what a persisted stage writes per item (DESIGN.md §5).
public struct OutputSchema: Sendable {
    /// Fixed-shape features: `features [N, ...fixedShape]`.
    public var fixedShape: [Int]?
    /// Variable-length sequences: `values [sum T, ...rowShape]` plus `offsets [N+1]`.
    public var sequenceRowShape: [Int]?
    /// Per-item integers, e.g. `n_frames` (the count of real frames).
    public var perItemInts: [String] = []
    /// Per-row floats beside `values`, e.g. `frame_times`.
    public var perRowFloats: [String] = []
    /// Rows per HDF5 chunk for `features` (1–8 items) or `values` (about 64–128 frames).
    public var chunkRows: Int = 1
    /// The element type of `values`: float32, or uint8 for image crops (`ItemFeature.sequenceBytes`).
    public var sequenceType: ElementType = .float32
    /// Other per-row columns beside `values` with their own type and row shape (boxes, landmarks, frame indices).
    public var rowColumns: [RowColumn] = []
}

/// A per-row column of a sequence stage: one row per row of `values` (e.g. `boxes [sum T, 4]`).
public struct RowColumn: Sendable {
    public var name: String
    public var type: ElementType
    public var rowShape: [Int]
    public init(_ name: String, _ type: ElementType, _ rowShape: [Int] = []) {
        self.name = name; self.type = type; self.rowShape = rowShape
    }
}

/// One item's output of a persisted stage.
public struct ItemFeature: Sendable {
    public var fixed: [Float]? = nil
    public var sequence: [Float]? = nil
    public var sequenceRows: Int = 0
    public var perItemInts: [String: Int64] = [:]
    public var perRowFloats: [String: [Float]] = [:]
    /// `values` as bytes when the schema's `sequenceType` is uint8 (then `sequence` stays nil).
    public var sequenceBytes: [UInt8]? = nil
    /// The schema's `rowColumns` for this item's rows.
    public var rowColumns: [String: ColumnData] = [:]
    public init() {}
}

/// What a stage hands to the stages after it, in memory. Ephemeral stages (audio) are never written.
public enum StageValue: Sendable {
    case audio(samples: [Float], sampleRate: Int)
    case feature(ItemFeature)
    /// The sampled frames (streamed to later stages) and what the frames stage persists about them.
    case frames(FrameSet, ItemFeature)
    /// The face crops (for stages on faces) and what the faces stage persists.
    case faces(FaceCrops, ItemFeature)

    /// What a persisted stage writes for the item, if anything.
    public var persisted: ItemFeature? {
        switch self {
        case .feature(let f), .frames(_, let f), .faces(_, let f): return f
        case .audio: return nil
        }
    }
}

/// Which inputs an item's fingerprint covers besides upstream stages.
public enum StageInput: Sendable {
    /// The clip's content identity (size and a hash of its head and tail).
    case media
    /// Only upstream stages.
    case upstream
    /// The annotation text the stage reads (its runner is an `AnnotationInputRunner`): the stage needs no media.
    case annotation
}

/// What a stage may need from the world when it is built: where relative model paths start, a cached content
/// hash for checkpoint files, and the tiny models that stand in for real checkpoints on the bundled sample.
public struct StageEnvironment: @unchecked Sendable {
    /// The folder holding `Pipelines/` (relative model paths are resolved against it after the current folder).
    public var projectRoot: URL?
    /// Set only when the dataset is the bundled sample: `Samples/models`, whose tiny random checkpoints stand in
    /// for a real checkpoint that is not there (outputs are labelled as such).
    public var sampleModels: URL?
    /// SHA-256 of a file's bytes, cached by path, size and mtime in the run records.
    public var contentHash: (URL) throws -> String

    public init(projectRoot: URL? = nil, sampleModels: URL? = nil,
                contentHash: @escaping (URL) throws -> String = { try SHA256.hexOfFile($0) }) {
        self.projectRoot = projectRoot
        self.sampleModels = sampleModels
        self.contentHash = contentHash
    }

    /// `path` as given if absolute or present relative to the current folder, else relative to `projectRoot`.
    public func resolve(_ path: String) -> URL {
        let expanded = (path as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return URL(fileURLWithPath: expanded) }
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(expanded)
        if FileManager.default.fileExists(atPath: cwd.path) { return cwd }
        return projectRoot.map { $0.appendingPathComponent(expanded) } ?? cwd
    }
}

/// A kind of stage: parameter schema, code version, and how to run it. A stage in a pipeline file is an
/// instance of a kind with parameters (like llbuild's rules: key, signature, and the reason it ran).
public protocol StageKind {
    /// The `kind:` name in pipeline files.
    static var kind: String { get }
    /// Bumped whenever the code changes what it computes: a new version recomputes the stage ("code changed").
    static var version: Int { get }
    static var paramSchema: [String: ParamSpec] { get }
    /// A kind that must be among `needs` (mfcc needs an audio stage).
    static var requiredUpstreamKind: String? { get }
    static var input: StageInput { get }
    /// A cross-parameter problem, or nil.
    static func validate(_ params: Params) -> String?
    /// Builds the runner; `upstream` maps the names in `needs` to their specs.
    static func make(_ spec: StageSpec, upstream: [StageSpec], environment: StageEnvironment) throws -> StageRunner
}

extension StageKind {
    public static var requiredUpstreamKind: String? { nil }
    public static func validate(_ params: Params) -> String? { nil }
}

/// A stage ready to run on items. Must be safe to call from several threads at once.
public protocol StageRunner: AnyObject, Sendable {
    /// nil for ephemeral stages (kept in memory, never written to the cache).
    var output: OutputSchema? { get }
    /// What the fingerprint hashes for the params, when not their canonical JSON: e.g. a checkpoint's content
    /// hash in place of its path, so another checkpoint recomputes the stage and a moved one does not.
    var paramsIdentity: String? { get }
    /// The upstream stages whose fingerprints this stage's fingerprint covers, when not all of `needs` (a stage
    /// that reads only one of its inputs under its current params).
    var fingerprintNeeds: [String]? { get }
    /// Extra root attributes for this stage's files (e.g. `sample_rate`, `hop_seconds`).
    var attributes: [String: String] { get }
    func run(_ item: ItemContext) throws -> StageValue
}

extension StageRunner {
    public var attributes: [String: String] { [:] }
    public var paramsIdentity: String? { nil }
    public var fingerprintNeeds: [String]? { nil }
}

/// A stage that runs on a whole shard at once (to batch model inference), before the per-item stages, on the
/// calling thread with every BLAS thread. It needs no media and no upstream stage.
public protocol ShardStageRunner: StageRunner {
    func runShard(_ items: [Utterance], dialogues: DialogueIndex) -> [Result<ItemFeature, ItemFailure>]
}

/// A stage whose fingerprint covers the annotation text it reads (`StageInput.annotation`).
public protocol AnnotationInputRunner: StageRunner {
    /// Everything from the annotations that the stage's output depends on, for one item.
    func annotationIdentity(_ item: Utterance, dialogues: DialogueIndex) -> String
}

/// A split's utterances by dialogue, in utterance-ID order, for stages that read an utterance's predecessors.
public struct DialogueIndex: Sendable {
    private var byDialogue: [Int: [Utterance]] = [:]

    public init(_ utterances: [Utterance]) {
        for u in utterances { byDialogue[u.key.dialogueID, default: []].append(u) }
        for k in byDialogue.keys { byDialogue[k]!.sort { $0.key.utteranceID < $1.key.utteranceID } }
    }

    /// Up to `count` utterances of the same dialogue before `key` (by utterance ID; gaps are skipped), oldest first.
    public func previous(_ key: UtteranceKey, count: Int) -> [Utterance] {
        guard count > 0, let all = byDialogue[key.dialogueID] else { return [] }
        let before = all.prefix { $0.key.utteranceID < key.utteranceID }
        return Array(before.suffix(count))
    }
}

/// The stage kinds `pipeline` knows.
public struct StageRegistry: Sendable {
    public var kinds: [String: StageKind.Type]

    public static let standard = StageRegistry(kinds: [
        AudioStage.kind: AudioStage.self,
        MFCCStage.kind: MFCCStage.self,
        MelSpecStage.kind: MelSpecStage.self,
        TextStage.kind: TextStage.self,
        FramesStage.kind: FramesStage.self,
        FacesStage.kind: FacesStage.self,
        HubertStage.kind: HubertStage.self,
        ClipStage.kind: ClipStage.self,
    ])
}

/// One item on its way through the stages: its annotation row, its clip, and the memoised values of the stages
/// that already ran on it, so a clip is decoded once for all stages that need it.
public final class ItemContext: @unchecked Sendable {
    public let utterance: Utterance
    public let clip: URL?
    private let runners: [String: StageRunner]
    private let needs: [String: [String]]
    private var values: [String: Result<StageValue, ItemFailure>] = [:]

    init(utterance: Utterance, clip: URL?, runners: [String: StageRunner], needs: [String: [String]]) {
        self.utterance = utterance
        self.clip = clip
        self.runners = runners
        self.needs = needs
    }

    /// Records a value computed elsewhere (a shard-level stage) so per-item stages can read it.
    func seed(_ stage: String, _ value: Result<StageValue, ItemFailure>) { values[stage] = value }

    /// The value of `stage` for this item, computing it (and what it needs) on first use.
    public func value(of stage: String) throws -> StageValue {
        if let cached = values[stage] { return try cached.get() }
        let result: Result<StageValue, ItemFailure>
        do {
            result = .success(try runners[stage]!.run(self))
        } catch let f as ItemFailure {
            result = .failure(f)
        } catch {
            result = .failure(ItemFailure(reason: "internal_error", message: "\(stage): \(error)"))
        }
        values[stage] = result
        return try result.get()
    }

    /// The first upstream stage's value (the common single-input case).
    public func upstream(of stage: String) throws -> StageValue {
        try value(of: needs[stage]!.first!)
    }

    /// The decoded audio from the upstream audio stage.
    public func upstreamAudio(of stage: String) throws -> (samples: [Float], sampleRate: Int) {
        guard case .audio(let s, let r) = try upstream(of: stage) else {
            throw ItemFailure(reason: "internal_error", message: "\(stage) expected audio from its upstream stage")
        }
        return (s, r)
    }
}
