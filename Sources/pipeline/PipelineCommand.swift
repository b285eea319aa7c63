import ArgumentParser
import Datasets
import Foundation
import PipelineKit

struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Turn a MELD video dataset into cached, trainer-ready features (MFCC, log-mel, ...).",
        discussion: """
            Exit status: 0 all done, 1 some items failed (each listed with its reason), 2 bad usage or configuration.
            With no dataset configured, runs on the bundled sample (Samples/MELD.Raw) and says so.
            """,
        version: toolVersion,
        subcommands: [Run.self, Status.self, Probe.self, Inspect.self, Bench.self]
    )
}

/// Options shared by the commands that read a dataset and a cache.
struct DatasetOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A MELD.Raw folder (default: dataset.root of the pipeline file, else $MELD_ROOT, else the bundled sample).", valueName: "dir"))
    var datasetRoot: String?

    @Option(help: ArgumentHelp("Where features are cached.", valueName: "dir"))
    var cache: String = "Cache"

    @Option(help: ArgumentHelp("Where run records and manifests are kept.", valueName: "dir"))
    var manifests: String = "Manifests"

    @Option(help: ArgumentHelp("Comma-separated splits.", valueName: "train,dev,test"))
    var splits: String?

    @Option(help: ArgumentHelp("Worker threads (default: the number of cores).", valueName: "n"))
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if let s = splits { _ = try parseSplits(s) }
    }

    func parseSplits(_ text: String) throws -> [Split] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !parts.isEmpty else { throw ValidationError("--splits needs at least one of train, dev, test") }
        return try parts.map {
            guard let s = Split(rawValue: $0) else { throw ValidationError("--splits: unknown split `\($0)` (use train, dev, test)") }
            return s
        }.sorted()
    }

    /// The dataset root: --dataset-root, then $MELD_ROOT, then the pipeline file's dataset.root, then the bundled
    /// sample (announced, so nobody mistakes sample features for real ones).
    func resolveRoot(_ spec: PipelineSpec?) throws -> URL {
        if let r = datasetRoot { return URL(fileURLWithPath: r) }
        if let env = ProcessInfo.processInfo.environment["MELD_ROOT"], !env.isEmpty { return URL(fileURLWithPath: env) }
        if let r = spec?.datasetRoot, !r.isEmpty {
            if r.hasPrefix("/") { return URL(fileURLWithPath: r) }
            return spec!.path.deletingLastPathComponent().appendingPathComponent(r)
        }
        guard let sample = Locations.find("Samples/MELD.Raw") else {
            throw ConfigurationError("no dataset configured and the bundled sample (Samples/MELD.Raw) was not found: pass --dataset-root DIR or set MELD_ROOT")
        }
        logLine("pipeline: no dataset configured; using the bundled sample at \(sample.path) (set --dataset-root, MELD_ROOT or dataset.root for real data)")
        return sample
    }

    /// Engine options from these flags and the pipeline file (root, cache, manifests, splits, jobs).
    func engineOptions(_ spec: PipelineSpec) throws -> Engine.Options {
        var options = Engine.Options(datasetRoot: try resolveRoot(spec), cacheDir: URL(fileURLWithPath: cache),
                                     manifestsDir: URL(fileURLWithPath: manifests), splits: try splitList(spec))
        options.jobs = jobs
        // The bundled sample (or a copy of it) may use the tiny models standing in for missing checkpoints.
        if FileManager.default.fileExists(atPath: options.datasetRoot.appendingPathComponent(".bundled-sample").path) {
            options.sampleModels = Locations.find("Samples/models")
        }
        return options
    }

    func splitList(_ spec: PipelineSpec?) throws -> [Split] {
        try parseSplits(splits ?? spec?.splits.joined(separator: ",") ?? "train,dev,test")
    }
}

/// Finds project folders (Pipelines/, Samples/) from the working directory upwards, then from the executable's.
enum Locations {
    static func find(_ relative: String) -> URL? {
        var starts = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        starts.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            starts.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        for start in starts {
            var dir = start.standardizedFileURL
            while true {
                let candidate = dir.appendingPathComponent(relative)
                if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
                if dir.path == "/" { break }
                dir.deleteLastPathComponent()
            }
        }
        return nil
    }

    /// A pipeline by name (`extract` → Pipelines/extract.yaml) or by path.
    static func pipeline(_ name: String) throws -> URL {
        if name.contains("/") || name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let url = URL(fileURLWithPath: name)
            guard FileManager.default.fileExists(atPath: url.path) else { throw ConfigurationError("pipeline file \(name) does not exist") }
            return url
        }
        guard let url = find("Pipelines/\(name).yaml") else {
            let known = find("Pipelines").flatMap { try? FileManager.default.contentsOfDirectory(atPath: $0.path) }?
                .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted() ?? []
            throw ConfigurationError("no pipeline `\(name)` (looked for Pipelines/\(name).yaml; known: \(known.joined(separator: ", ")))")
        }
        return url
    }
}

func commaList(_ s: String?) -> [String]? {
    s.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
}
