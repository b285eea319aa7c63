import ArgumentParser
import Foundation
import PipelineKit

extension PipelineCommand {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per stage and split: done / stale / failed / pending, and why stale or failed.")

        @Argument(help: "A pipeline name in Pipelines/ or a path.")
        var pipeline: String = "extract"

        @OptionGroup var dataset: DatasetOptions

        @Option(name: .customLong("set"), help: ArgumentHelp("Parameter overrides to compare against.", valueName: "stage.param=value"))
        var overrides: [String] = []

        func run() throws {
            let spec = try PipelineSpec.load(from: Locations.pipeline(pipeline), overrides: overrides)
            let engine = try Engine(spec: spec, options: try dataset.engineOptions(spec))
            let plans = try engine.plan()
            print(Engine.renderStatus(engine.status(plans), dryRun: false), terminator: "")
            let failures = try engine.failures(plans)
            if !failures.isEmpty { print(FailureList.render(failures), terminator: "") }
        }
    }
}
