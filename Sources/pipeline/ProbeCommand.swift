import ArgumentParser
import Foundation
import PipelineKit

extension PipelineCommand {
    struct Probe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Media check of every annotated clip: streams, duration against the CSV times, decodability.",
            discussion: "Writes Manifests/meld-probe.json. Exit 1 when any clip cannot be extracted.")

        @OptionGroup var dataset: DatasetOptions

        @Flag(help: "No progress display.")
        var quiet = false

        func run() throws {
            let root = try dataset.resolveRoot(nil)
            let report = try PipelineKit.Probe.run(root: root, splits: try dataset.splitList(nil), jobs: dataset.jobs,
                                                   progress: ProgressReporter(enabled: !quiet))
            let out = URL(fileURLWithPath: dataset.manifests).appendingPathComponent("meld-probe.json")
            try FileManager.default.createDirectory(at: out.deletingLastPathComponent(), withIntermediateDirectories: true)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(report).write(to: out, options: .atomic)
            let warned = report.items.filter { !$0.warnings.isEmpty }
            print("probe: \(report.items.count) annotated clips, \(report.problemCount) with problems, \(warned.count) with warnings, \(report.unannotatedClips.count) clips without a CSV row")
            for i in report.items where !i.problems.isEmpty { print("  PROBLEM \(i.key): \(i.problems.joined(separator: "; "))") }
            for e in report.csvErrors { print("  PROBLEM csv \(e)") }
            for i in warned { print("  warning \(i.key): \(i.warnings.joined(separator: "; "))") }
            for u in report.unannotatedClips { print("  unannotated \(u)") }
            print("written: \(out.path)")
            if report.problemCount > 0 { throw ExitCode(1) }
        }
    }
}
