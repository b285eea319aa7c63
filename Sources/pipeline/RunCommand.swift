import ArgumentParser
import Foundation
import PipelineKit

extension PipelineCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a pipeline (resumes where it stopped; recomputes only what changed).")

        @Argument(help: "A pipeline name in Pipelines/ (e.g. extract) or a path to a pipeline file.")
        var pipeline: String = "extract"

        @OptionGroup var dataset: DatasetOptions

        @Option(help: ArgumentHelp("Run only these stages (and what they need).", valueName: "s1,s2"))
        var only: String?

        @Option(help: ArgumentHelp("Recompute these stages even if up to date.", valueName: "s1,s2"))
        var force: String?

        @Option(name: .customLong("set"), help: ArgumentHelp("Override a stage parameter (repeatable).", valueName: "stage.param=value"))
        var overrides: [String] = []

        @Option(help: ArgumentHelp("Items per shard (the unit of work and of commit).", valueName: "n"))
        var shardSize: Int?

        @Option(help: ArgumentHelp("With --shard-count: compute only every n-th dirty shard, starting at this one "
                                   + "(0-based; e.g. $SLURM_ARRAY_TASK_ID - $SLURM_ARRAY_TASK_MIN).", valueName: "i"))
        var shardIndex: Int?

        @Option(help: ArgumentHelp("Split the run into this many parts, run as separate processes at once (a job "
                                   + "array); a run without these options afterwards writes the index files.",
                                   valueName: "n"))
        var shardCount: Int?

        @Flag(help: "Say what would run and why, and do nothing.")
        var dryRun = false

        @Flag(help: "Recompute items that failed before even if their inputs did not change.")
        var retryFailed = false

        @Flag(help: "No progress display.")
        var quiet = false

        func validate() throws {
            if let n = shardSize, n < 1 { throw ValidationError("--shard-size must be at least 1") }
            switch (shardIndex, shardCount) {
            case (nil, nil): break
            case (let i?, let n?):
                if n < 1 { throw ValidationError("--shard-count must be at least 1") }
                if i < 0 || i >= n { throw ValidationError("--shard-index must be in 0..<\(n) (0-based), got \(i)") }
            default:
                throw ValidationError("--shard-index and --shard-count go together")
            }
        }

        func run() throws {
            var spec = try PipelineSpec.load(from: Locations.pipeline(pipeline), overrides: overrides)
            if let n = shardSize { spec.shardSize = n }
            var options = try dataset.engineOptions(spec)
            options.only = commaList(only)
            options.force = commaList(force) ?? []
            options.retryFailed = retryFailed
            options.progress = !quiet
            if let i = shardIndex, let n = shardCount, n > 1 { options.part = (i, n) }
            let engine = try Engine(spec: spec, options: options)
            if dryRun {
                let rows = engine.status(try engine.plan())
                print(Engine.renderStatus(rows, dryRun: true), terminator: "")
                return
            }
            let start = Date()
            let summary = try engine.run()
            let elapsed = Date().timeIntervalSince(start)
            var parts: [String] = []
            for s in Set(summary.computedItems.keys).union(summary.reusedItems.keys).union(summary.leftToOtherParts.keys).sorted() {
                var line = "\(s): \(summary.computedItems[s] ?? 0) computed, \(summary.reusedItems[s] ?? 0) reused"
                if let left = summary.leftToOtherParts[s] { line += ", \(left) left to the other parts" }
                parts.append(line)
            }
            let partLabel = options.part.map { " (part \($0.index + 1) of \($0.count), --shard-index \($0.index))" } ?? ""
            print("pipeline \(spec.name)\(partLabel): \(parts.joined(separator: "; ")) in \(String(format: "%.1f", elapsed)) s")
            if options.part != nil {
                print("index files are not written by a part: once every part has finished, run the same command "
                      + "without --shard-index/--shard-count to join the shards (it computes nothing)")
            } else {
                print("cache: \(options.cacheDir.path)/\(spec.datasetName)/<feature>/<split>.h5")
            }
            if !summary.failures.isEmpty {
                print(FailureList.render(summary.failures))
                throw ExitCode(1)
            }
        }
    }
}

/// The failures at the end of a run or in `status`, grouped by item.
enum FailureList {
    static func render(_ failures: [(key: String, stage: String, reason: String, message: String)]) -> String {
        // One line per item and reason: the stages that failed for that reason, and the first one's message.
        var groups: [String: [(stage: String, reason: String, message: String)]] = [:]
        var order: [String] = [], keys: Set<String> = []
        for f in failures {
            let g = f.key + "\u{0}" + f.reason
            if groups[g] == nil { order.append(g) }
            keys.insert(f.key)
            groups[g, default: []].append((f.stage, f.reason, f.message))
        }
        var out = "\(keys.count) item(s) failed:\n"
        for g in order {
            let fs = groups[g]!
            let key = String(g[..<g.firstIndex(of: "\u{0}")!])
            out += "  \(key) [\(fs.map(\.stage).sorted().joined(separator: ", "))] \(fs[0].reason): \(fs[0].message)\n"
        }
        return out
    }
}
