import Datasets
import FeatureStore
import Foundation
import Tensor

/// The version of this tool, written into every cache file.
public let toolVersion = "0.1.0"
/// The version of the cache layout (DESIGN.md §5, README "Cache layout"); bumped on incompatible changes.
public let layoutVersion = 1

/// Runs a pipeline over a dataset: plans what is stale and why, computes dirty shards (each clip decoded once
/// for every stage that needs it, items in parallel), commits each shard crash-safely, records it, and writes
/// the per-split index files.
public final class Engine {
    public struct Options {
        public var datasetRoot: URL
        public var cacheDir: URL
        public var manifestsDir: URL
        public var splits: [Split]
        public var only: [String]? = nil
        public var force: [String] = []
        public var retryFailed = false
        public var jobs = ProcessInfo.processInfo.activeProcessorCount
        public var progress = true
        /// `Samples/models` when the dataset is the bundled sample: tiny checkpoints used where a real one is absent.
        public var sampleModels: URL? = nil
        /// The folder holding `Pipelines/`, for relative model paths (default: the pipeline file's parent's parent).
        public var projectRoot: URL? = nil
        /// One part of a run split across processes (a Slurm job array, GNU parallel): this process computes the
        /// dirty shards whose ordinal (over the splits in order, then the shards) is `index` modulo `count`, and
        /// writes no index file (another part may still be writing); a run without parts afterwards joins the
        /// committed shards into the indexes and computes nothing. Nil: the whole run.
        public var part: (index: Int, count: Int)? = nil

        public init(datasetRoot: URL, cacheDir: URL, manifestsDir: URL, splits: [Split]) {
            self.datasetRoot = datasetRoot
            self.cacheDir = cacheDir
            self.manifestsDir = manifestsDir
            self.splits = splits
        }
    }

    /// One split's items with their clips, as the dataset gives them.
    struct SplitData {
        var split: Split
        var utterances: [Utterance]
        var rowErrors: [CSVRowError]
        var clips: [String: URL]
        var dialogues: DialogueIndex
    }

    public let spec: PipelineSpec
    public let options: Options
    let registry: StageRegistry
    let store: RunStore
    let cacheKey: String
    /// Stages that run (the `--only` closure, or all), in order.
    let stages: [StageSpec]
    private(set) var runners: [String: StageRunner] = [:]
    private var data: [SplitData] = []

    public init(spec: PipelineSpec, options: Options, registry: StageRegistry = .standard) throws {
        self.spec = spec
        self.options = options
        self.registry = registry
        stages = try options.only.map { try spec.closure(of: $0) } ?? spec.stages
        for f in options.force where spec.stage(f) == nil {
            throw ConfigurationError("--force \(f): no stage `\(f)` in \(spec.path.lastPathComponent) (stages: \(spec.stages.map(\.name).joined(separator: ", ")))")
        }
        try FileManager.default.createDirectory(at: options.cacheDir, withIntermediateDirectories: true)
        cacheKey = options.cacheDir.standardizedFileURL.resolvingSymlinksInPath().path
        let store = try RunStore(url: options.manifestsDir.appendingPathComponent("runs.sqlite"))
        self.store = store
        let environment = StageEnvironment(
            projectRoot: options.projectRoot ?? spec.path.deletingLastPathComponent().deletingLastPathComponent(),
            sampleModels: options.sampleModels,
            contentHash: { url in try ContentIdentity.sha256(of: url, store: store) })
        data = try loadDataset()
        for s in stages {
            let upstream = s.needs.compactMap { spec.stage($0) }
            runners[s.name] = try registry.kinds[s.kind]!.make(s, upstream: upstream, environment: environment)
        }
    }

    // MARK: dataset

    private func loadDataset() throws -> [SplitData] {
        let layout: MELDLayout
        do { layout = try MELDLayout(root: options.datasetRoot) } catch {
            throw ConfigurationError("\(error) (pass --dataset-root DIR or set MELD_ROOT)")
        }
        return try options.splits.map { split in
            let parsed: (utterances: [Utterance], errors: [CSVRowError])
            do { parsed = try layout.loadAnnotations(split: split) } catch {
                throw ConfigurationError("\(error) (choose splits with --splits)")
            }
            let needsClips = stages.contains { registry.kinds[$0.kind]!.input == .media }
            return SplitData(split: split, utterances: parsed.utterances, rowErrors: parsed.errors,
                             clips: needsClips ? layout.clips(for: split) : [:],
                             dialogues: DialogueIndex(parsed.utterances))
        }
    }

    var persistedStages: [StageSpec] { stages.filter { runners[$0.name]!.output != nil } }

    func featureDir(_ stage: String) -> URL {
        options.cacheDir.appendingPathComponent(spec.datasetName).appendingPathComponent(stage)
    }

    func shardURL(_ stage: String, _ split: Split, _ index: Int) -> URL {
        featureDir(stage).appendingPathComponent("shards").appendingPathComponent(String(format: "%@-%05d.h5", split.rawValue, index))
    }

    func indexURL(_ stage: String, _ split: Split) -> URL {
        featureDir(stage).appendingPathComponent("\(split.rawValue).h5")
    }

    // MARK: planning

    /// One shard of one stage: its items, their fingerprints, and whether (and why) it must be computed.
    public struct ShardPlan {
        public var index: Int
        public var items: [Utterance]
        public var fingerprints: [ItemFingerprint]
        public var fingerprint: String
        public var reasons: [RunReason: Int]
        public var dirty: Bool { !reasons.isEmpty }
    }

    public struct SplitPlan {
        public var split: Split
        public var shards: [ShardPlan]
        public var records: [String: RunStore.ItemRecord]
        public var rowErrors: [CSVRowError]
    }

    public struct StagePlan {
        public var stage: StageSpec
        public var splits: [SplitPlan]
    }

    /// Fingerprints every item of every stage (in order, so upstream fingerprints feed downstream ones) and
    /// compares them with the run records. Writes nothing but cached media hashes.
    public func plan() throws -> [StagePlan] {
        var itemFP: [String: [UtteranceKey: ItemFingerprint]] = [:]
        var mediaIDs: [UtteranceKey: String] = [:]
        func mediaID(_ u: Utterance, _ d: SplitData) -> String {
            if let m = mediaIDs[u.key] { return m }
            let m = MediaIdentity.identity(of: d.clips[u.key.clipName], store: store)
            mediaIDs[u.key] = m
            return m
        }
        var plans: [StagePlan] = []
        for s in stages {
            let kind = registry.kinds[s.kind]!
            let runner = runners[s.name]!
            let paramsIdentity = runner.paramsIdentity ?? s.params.canonicalJSON
            var fps: [UtteranceKey: ItemFingerprint] = [:]
            for d in data {
                for u in d.utterances {
                    var inputs: [String] = []
                    switch kind.input {
                    case .media: inputs.append("media=" + mediaID(u, d))
                    case .annotation:
                        if let a = runner as? AnnotationInputRunner {
                            inputs.append("annotation=" + SHA256.hex(a.annotationIdentity(u, dialogues: d.dialogues)))
                        }
                    case .upstream: break
                    }
                    for n in runner.fingerprintNeeds ?? s.needs { inputs.append("\(n)=" + (itemFP[n]?[u.key]?.value ?? "?")) }
                    fps[u.key] = ItemFingerprint(stage: s.name, kind: s.kind, codeVersion: kind.version,
                                                 paramsJSON: paramsIdentity, inputs: inputs)
                }
            }
            itemFP[s.name] = fps
            guard runners[s.name]!.output != nil else { continue }
            let records = try store.items(cache: cacheKey, stage: s.name)
            var splitPlans: [SplitPlan] = []
            for d in data {
                let shardRecords = try store.shards(cache: cacheKey, stage: s.name, split: d.split.rawValue)
                var shards: [ShardPlan] = []
                let chunks = stride(from: 0, to: d.utterances.count, by: spec.shardSize).map {
                    Array(d.utterances[$0..<min($0 + spec.shardSize, d.utterances.count)])
                }
                for (i, items) in chunks.enumerated() {
                    let f = items.map { fps[$0.key]! }
                    var h = SHA256()
                    for (u, fp) in zip(items, f) { h.update("\(u.key)=\(fp.value)\n") }
                    let shardFP = h.finalizeHex()
                    var reasons: [RunReason: Int] = [:]
                    for (u, fp) in zip(items, f) {
                        let rec = records[u.key.description]
                        if let r = fp.reason(against: rec) { reasons[r, default: 0] += 1 }
                        else if options.retryFailed, rec?.status == "failed" { reasons[.failedBefore, default: 0] += 1 }
                    }
                    if options.force.contains(s.name) { reasons = [.forced: items.count] }
                    if reasons.isEmpty {
                        // Records agree item by item; the shard file must also be the committed one.
                        let url = shardURL(s.name, d.split, i)
                        let rec = shardRecords[i]
                        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value
                        if rec?.fingerprint != shardFP {
                            reasons[rec == nil ? .neverBuilt : .inputChanged] = items.count
                        } else if size == nil || size != rec?.size {
                            reasons[.outputMissing] = items.count
                        }
                    }
                    shards.append(ShardPlan(index: i, items: items, fingerprints: f, fingerprint: shardFP, reasons: reasons))
                }
                splitPlans.append(SplitPlan(split: d.split, shards: shards, records: records, rowErrors: d.rowErrors))
            }
            plans.append(StagePlan(stage: s, splits: splitPlans))
        }
        return plans
    }

    // MARK: running

    /// What a run did and what is wrong: the CLI prints it and exits 1 when `failures` is not empty.
    public struct Summary {
        public var computedItems: [String: Int] = [:]
        public var reusedItems: [String: Int] = [:]
        public var failures: [(key: String, stage: String, reason: String, message: String)] = []
        public var indexes: [URL] = []
        /// Items of dirty shards left to the other parts of a split run (`Options.part`), per stage.
        public var leftToOtherParts: [String: Int] = [:]
    }

    /// Whether shard number `ordinal` (counted over the splits in order, then their shards) is this process's.
    func isMine(_ ordinal: Int) -> Bool {
        guard let part = options.part else { return true }
        return ordinal % part.count == part.index
    }

    public func run() throws -> Summary {
        let plans = try plan()
        // Another part of a split run may be writing its *.tmp right now; a whole run owns the cache.
        if options.part == nil { try removeStaleTemporaries() }
        let progress = ProgressReporter(enabled: options.progress)
        // Shard ordinals over the splits in order, so that the parts of a split run divide the work evenly.
        let firstOrdinal = data.indices.reduce(into: [Int]()) { acc, si in
            acc.append(si == 0 ? 0 : acc[si - 1] + (plans.first?.splits[si - 1].shards.count ?? 0))
        }
        for p in plans {
            var n = 0
            for (si, sp) in p.splits.enumerated() {
                for sh in sp.shards where sh.dirty && isMine(firstOrdinal[si] + sh.index) { n += sh.items.count }
            }
            if n > 0 { progress.setTotal(p.stage.name, n) }
        }
        var summary = Summary()
        var myShards: Set<[Int]> = []
        let needs = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0.needs) })
        for (si, d) in data.enumerated() {
            let shardCount = plans.first?.splits[si].shards.count ?? 0
            for shardIndex in 0..<shardCount {
                let dirty = plans.filter { $0.splits[si].shards[shardIndex].dirty }
                for p in plans where !p.splits[si].shards[shardIndex].dirty {
                    summary.reusedItems[p.stage.name, default: 0] += p.splits[si].shards[shardIndex].items.count
                }
                guard !dirty.isEmpty else { continue }
                guard isMine(firstOrdinal[si] + shardIndex) else {
                    for p in dirty {
                        summary.leftToOtherParts[p.stage.name, default: 0] += p.splits[si].shards[shardIndex].items.count
                    }
                    continue
                }
                myShards.insert([si, shardIndex])
                let items = dirty[0].splits[si].shards[shardIndex].items
                // Shard-level stages (batched model inference on annotations) first, with every BLAS thread.
                var shardResults: [String: [Result<ItemFeature, ItemFailure>]] = [:]
                BLAS.setThreads(options.jobs)
                for p in dirty {
                    guard let r = runners[p.stage.name] as? ShardStageRunner else { continue }
                    shardResults[p.stage.name] = r.runShard(items, dialogues: d.dialogues)
                    for result in shardResults[p.stage.name]! {
                        if case .failure = result { progress.advance(p.stage.name, failed: true) } else { progress.advance(p.stage.name) }
                    }
                }
                // Then per item, items in parallel (one BLAS thread each): one context per item, so the clip is
                // decoded once for every dirty stage, and its decoded values are dropped when the item is done.
                let perItem = dirty.filter { shardResults[$0.stage.name] == nil }
                BLAS.setThreads(1)
                defer { BLAS.setThreads(options.jobs) }
                let itemResults: [[String: Result<ItemFeature, ItemFailure>]] = perItem.isEmpty ? [] : parallelMap(items.count, jobs: options.jobs) { i in
                    let u = items[i]
                    let ctx = ItemContext(utterance: u, clip: d.clips[u.key.clipName], runners: self.runners, needs: needs)
                    for (name, results) in shardResults { ctx.seed(name, results[i].map { .feature($0) }) }
                    var out: [String: Result<ItemFeature, ItemFailure>] = [:]
                    for p in perItem {
                        do {
                            guard let f = try ctx.value(of: p.stage.name).persisted else {
                                throw ItemFailure(reason: "internal_error", message: "\(p.stage.name) produced no feature")
                            }
                            out[p.stage.name] = .success(f)
                        } catch let f as ItemFailure {
                            out[p.stage.name] = .failure(f)
                        } catch {
                            out[p.stage.name] = .failure(ItemFailure(reason: "internal_error", message: "\(error)"))
                        }
                        if case .failure = out[p.stage.name]! { progress.advance(p.stage.name, failed: true) }
                        else { progress.advance(p.stage.name) }
                    }
                    return out
                }
                func results(_ stage: String) -> [Result<ItemFeature, ItemFailure>] {
                    shardResults[stage] ?? itemResults.map { $0[stage]! }
                }
                for p in dirty {
                    let sp = p.splits[si].shards[shardIndex]
                    try commitShard(stage: p.stage, split: d.split, plan: sp, results: results(p.stage.name))
                    summary.computedItems[p.stage.name, default: 0] += sp.items.count
                }
            }
            guard options.part == nil else { continue }   // the joining run writes the indexes
            for p in plans {
                if let url = try writeIndexIfNeeded(stage: p.stage, split: p.splits[si], data: d) { summary.indexes.append(url) }
            }
        }
        progress.finish()
        summary.failures = try failures(plans, onlyShards: options.part == nil ? nil : myShards)
        return summary
    }

    /// Every failed item of the planned stages and splits, and every unreadable CSV row; with `onlyShards`
    /// (`[split position, shard index]` pairs, a part of a split run), those of these shards and no CSV rows.
    public func failures(_ plans: [StagePlan], onlyShards: Set<[Int]>? = nil)
        throws -> [(key: String, stage: String, reason: String, message: String)] {
        var out: [(key: String, stage: String, reason: String, message: String)] = []
        for d in data where onlyShards == nil {
            for e in d.rowErrors {
                out.append((e.key?.description ?? "\(d.split.rawValue)/line \(e.line)", "csv", e.reason, e.message))
            }
        }
        for p in plans {
            let records = try store.items(cache: cacheKey, stage: p.stage.name)
            for (si, sp) in p.splits.enumerated() {
                for sh in sp.shards where onlyShards?.contains([si, sh.index]) ?? true {
                    for (u, fp) in zip(sh.items, sh.fingerprints) {
                        if let r = records[u.key.description], r.status == "failed", r.fingerprint == fp.value {
                            out.append((u.key.description, p.stage.name, r.reason ?? "failed", r.message ?? ""))
                        }
                    }
                }
            }
        }
        return out
    }

    /// A kill can leave `*.tmp` files of shards or indexes in flight; they are never valid, so they go.
    func removeStaleTemporaries() throws {
        let root = options.cacheDir.appendingPathComponent(spec.datasetName)
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return }
        for case let url as URL in e where url.pathExtension == "tmp" {
            try? FileManager.default.removeItem(at: url)
        }
    }

    /// Writes one stage's shard file (tmp, close, fsync, rename, fsync dir) and then records it and its items in
    /// one transaction. A kill before the transaction leaves a valid file that the next run recomputes and
    /// replaces with the same bytes.
    func commitShard(stage: StageSpec, split: Split, plan: ShardPlan, results: [Result<ItemFeature, ItemFailure>]) throws {
        let runner = runners[stage.name]!
        let schema = runner.output!
        let content = ShardAssembler.assemble(schema: schema, keys: plan.items.map(\.key.description), results: results,
                                              attributes: fileAttributes(stage: stage, split: split, fingerprint: plan.fingerprint))
        let url = shardURL(stage.name, split, plan.index)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ShardWriter.write(content, to: url)
        let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value ?? -1
        try store.transaction {
            for (i, u) in plan.items.enumerated() {
                let fp = plan.fingerprints[i]
                var status = "done", reason: String?, message: String?
                if case .failure(let f) = results[i] { status = "failed"; reason = f.reason; message = f.message }
                try store.putItem(cache: cacheKey, .init(stage: stage.name, key: u.key.description, shard: plan.index,
                                                         fingerprint: fp.value, codeVersion: fp.codeVersion,
                                                         paramsHash: fp.paramsHash, inputHash: fp.inputHash,
                                                         status: status, reason: reason, message: message))
            }
            try store.putShard(cache: cacheKey, stage: stage.name, split: split.rawValue, shard: plan.index,
                               .init(fingerprint: plan.fingerprint, path: url.path, size: size, nItems: plan.items.count))
        }
    }

    func fileAttributes(stage: StageSpec, split: Split, fingerprint: String) -> [String: AttributeValue] {
        var a: [String: AttributeValue] = [
            "fingerprint": .string(fingerprint),
            "feature": .string(stage.name),
            "kind": .string(stage.kind),
            "stage_version": .int(Int64(registry.kinds[stage.kind]!.version)),
            "split": .string(split.rawValue),
            "dataset": .string(spec.datasetName),
            "params": .string(stage.params.canonicalJSON),
            "tool_version": .string(toolVersion),
            "layout_version": .int(Int64(layoutVersion)),
        ]
        for (k, v) in runners[stage.name]!.attributes { a[k] = .string(v) }
        return a
    }

    /// Writes `CACHE/<dataset>/<stage>/<split>.h5` when its shards, labels or statistics changed since the last
    /// index, after removing shard files beyond the current count.
    func writeIndexIfNeeded(stage: StageSpec, split sp: SplitPlan, data d: SplitData) throws -> URL? {
        let fm = FileManager.default
        // Shards past the current count belong to an older, longer item list.
        var extra = sp.shards.count
        while fm.fileExists(atPath: shardURL(stage.name, sp.split, extra).path) {
            try fm.removeItem(at: shardURL(stage.name, sp.split, extra)); extra += 1
        }
        try store.deleteShards(cache: cacheKey, stage: stage.name, split: sp.split.rawValue, from: sp.shards.count)

        let records = try store.shards(cache: cacheKey, stage: stage.name, split: sp.split.rawValue)
        for sh in sp.shards where records[sh.index]?.fingerprint != sh.fingerprint {
            return nil   // not every shard is committed (e.g. a dry plan); no index yet
        }
        let labels = labelColumns(d.utterances)
        var labelHash = SHA256()
        for u in d.utterances { labelHash.update("\(u.key) \(u.emotion.rawValue) \(u.sentiment.rawValue)\n") }
        let stats = try statisticsColumns(stage: stage)
        var h = SHA256()
        h.update("layout \(layoutVersion) tool \(toolVersion)\n")
        for sh in sp.shards { h.update(sh.fingerprint + "\n") }
        h.update(labelHash.finalizeHex() + "\n" + stats.fingerprint)
        let fingerprint = h.finalizeHex()
        let url = indexURL(stage.name, sp.split)
        if try store.indexFingerprint(cache: cacheKey, stage: stage.name, split: sp.split.rawValue) == fingerprint,
           fm.fileExists(atPath: url.path) {
            return nil
        }
        var attrs = fileAttributes(stage: stage, split: sp.split, fingerprint: fingerprint)
        attrs["n_items"] = .int(Int64(d.utterances.count))
        attrs["n_shards"] = .int(Int64(sp.shards.count))
        attrs["emotion_labels"] = .strings(Emotion.allCases.map(\.rawValue))
        attrs["sentiment_labels"] = .strings(Sentiment.allCases.map(\.rawValue))
        for (k, v) in stats.attributes { attrs[k] = .string(v) }
        let refs = sp.shards.map { ShardRef(url: shardURL(stage.name, sp.split, $0.index), expectedFingerprint: $0.fingerprint) }
        // A split with no utterances still gets the full set of (empty) datasets.
        let empty = ShardAssembler.assemble(schema: runners[stage.name]!.output!, keys: [], results: [], attributes: [:])
        try IndexWriter.write(to: url, shards: refs, extraColumns: labels + stats.columns, attributes: attrs,
                              emptySchema: empty.columns.map(\.schema))
        try store.putIndex(cache: cacheKey, stage: stage.name, split: sp.split.rawValue, fingerprint: fingerprint, path: url.path)
        return url
    }

    /// Labels and IDs from the annotations, written into the index (not the shards), so fixing a label rewrites
    /// only the small index files.
    func labelColumns(_ us: [Utterance]) -> [Column] {
        [
            Column(name: "dialogue_id", data: .int32(us.map { Int32($0.key.dialogueID) }), rowShape: [], indexMode: .copy),
            Column(name: "utterance_id", data: .int32(us.map { Int32($0.key.utteranceID) }), rowShape: [], indexMode: .copy),
            Column(name: "emotion", data: .int32(us.map { Int32(Emotion.allCases.firstIndex(of: $0.emotion)!) }), rowShape: [], indexMode: .copy),
            Column(name: "sentiment", data: .int32(us.map { Int32(Sentiment.allCases.firstIndex(of: $0.sentiment)!) }), rowShape: [], indexMode: .copy),
        ]
    }

    /// Per-coefficient statistics over the train split's real frames (for stages that define them), read from
    /// the committed train shards. Every split's index carries the train statistics.
    func statisticsColumns(stage: StageSpec) throws -> (columns: [Column], attributes: [String: String], fingerprint: String) {
        guard let statRunner = runners[stage.name] as? StatisticsProvider else { return ([], [:], "") }
        let note = "coef_mean/coef_std: per-coefficient mean and std over the train split's real frames"
        func columns(_ mean: [Float], _ std: [Float]) -> [Column] {
            [Column(name: "coef_mean", data: .float32(mean), rowShape: [], indexMode: .copy),
             Column(name: "coef_std", data: .float32(std), rowShape: [], indexMode: .copy)]
        }
        // Train statistics are trusted only when the train shards on record match the current fingerprints,
        // which is known here only if train is part of this run; otherwise they come from the train index.
        guard data.contains(where: { $0.split == .train }) else {
            if let f = try? FeatureFile(url: indexURL(stage.name, .train)),
               let mean = try? f.readFloats("coef_mean"), let std = try? f.readFloats("coef_std"),
               case .string(let fp)? = f.attributes["fingerprint"] {
                return (columns(mean, std), ["normalization": note], fp)
            }
            return ([], ["normalization": "unavailable: the train split has not been extracted with these parameters"], "none")
        }
        let records = try store.shards(cache: cacheKey, stage: stage.name, split: Split.train.rawValue)
        let shards = records.keys.sorted()
        let (mean, std) = try statRunner.statistics(shards: shards.map { shardURL(stage.name, .train, $0) })
        return (columns(mean, std), ["normalization": note],
                SHA256.hex(shards.map { records[$0]!.fingerprint }.joined(separator: ",")))
    }
}

/// A stage whose index files carry train-split statistics.
protocol StatisticsProvider {
    func statistics(shards: [URL]) throws -> (mean: [Float], std: [Float])
}

/// Runs `body` for 0..<n on `jobs` threads, results in order.
func parallelMap<T>(_ n: Int, jobs: Int, _ body: @escaping (Int) -> T) -> [T] {
    var results = [T?](repeating: nil, count: n)
    let lock = NSLock()
    var next = 0
    DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, n))) { _ in
        while true {
            lock.lock()
            let i = next
            next += 1
            lock.unlock()
            if i >= n { return }
            let r = body(i)
            lock.lock()
            results[i] = r
            lock.unlock()
        }
    }
    return results.map { $0! }
}

/// Turns per-item results into shard columns in the cache layout (DESIGN.md §5): `keys`, `valid`, then
/// `features [N, ...]` or `values [sum T, ...]` + `offsets [N+1]`, per-item integers and per-row floats.
/// Failed items are rows with `valid` 0, zero features and no sequence rows: explicit, never silent zeros.
enum ShardAssembler {
    static func assemble(schema: OutputSchema, keys: [String], results: [Result<ItemFeature, ItemFailure>],
                         attributes: [String: AttributeValue]) -> ShardContent {
        var columns: [Column] = [
            Column(name: "keys", data: .strings(keys), rowShape: [], indexMode: .copy),
            Column(name: "valid", data: .uint8(results.map { if case .success = $0 { return 1 } else { return 0 } }),
                   rowShape: [], indexMode: .copy),
        ]
        let features = results.map { try? $0.get() }
        if let shape = schema.fixedShape {
            let per = shape.reduce(1, *)
            var flat = [Float](repeating: 0, count: per * results.count)
            for (i, f) in features.enumerated() {
                if let v = f?.fixed, v.count == per { flat.replaceSubrange(i * per..<(i + 1) * per, with: v) }
            }
            columns.append(Column(name: "features", data: .float32(flat), rowShape: shape, chunkRows: schema.chunkRows, indexMode: .virtual))
        }
        if let rowShape = schema.sequenceRowShape {
            var values = ColumnData.empty(schema.sequenceType)
            var offsets: [Int64] = [0]
            var perRow: [String: [Float]] = [:]
            var rowColumns = Dictionary(uniqueKeysWithValues: schema.rowColumns.map { ($0.name, ColumnData.empty($0.type)) })
            for f in features {
                let data: ColumnData? = schema.sequenceType == .uint8 ? f?.sequenceBytes.map { .uint8($0) } : f?.sequence.map { .float32($0) }
                if let f, let data {
                    values.append(data)
                    for name in schema.perRowFloats { perRow[name, default: []].append(contentsOf: f.perRowFloats[name] ?? []) }
                    for c in schema.rowColumns {
                        rowColumns[c.name]!.append(f.rowColumns[c.name] ?? .empty(c.type))
                    }
                    offsets.append(offsets.last! + Int64(f.sequenceRows))
                } else {
                    offsets.append(offsets.last!)
                }
            }
            columns.append(Column(name: "values", data: values, rowShape: rowShape, chunkRows: schema.chunkRows, indexMode: .virtual))
            columns.append(Column(name: "offsets", data: .int64(offsets), rowShape: [], indexMode: .offsets))
            for name in schema.perRowFloats {
                columns.append(Column(name: name, data: .float32(perRow[name] ?? []), rowShape: [], chunkRows: 1024, indexMode: .virtual))
            }
            for c in schema.rowColumns {
                columns.append(Column(name: c.name, data: rowColumns[c.name]!, rowShape: c.rowShape, chunkRows: 1024, indexMode: .virtual))
            }
        }
        for name in schema.perItemInts {
            columns.append(Column(name: name, data: .int32(features.map { Int32($0?.perItemInts[name] ?? 0) }),
                                  rowShape: [], indexMode: .copy))
        }
        return ShardContent(columns: columns, attributes: attributes)
    }
}
