import ArgumentParser
import FeatureStore
import Foundation
import PipelineKit

extension PipelineCommand {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What the cache holds for one utterance (shapes, validity, value ranges).")

        @Argument(help: "An utterance key, e.g. train/dia0_utt0.")
        var key: String

        @Option(help: ArgumentHelp("Where features are cached.", valueName: "dir"))
        var cache: String = "Cache"

        @Option(help: "Dataset folder inside the cache.")
        var dataset: String = "meld"

        func run() throws {
            guard let slash = key.firstIndex(of: "/") else { throw ValidationError("key must look like train/dia0_utt0") }
            let split = String(key[..<slash])
            let root = URL(fileURLWithPath: cache).appendingPathComponent(dataset)
            let features = (try? FileManager.default.contentsOfDirectory(atPath: root.path))?.sorted() ?? []
            var found = false
            for feature in features {
                let url = root.appendingPathComponent(feature).appendingPathComponent("\(split).h5")
                guard FileManager.default.fileExists(atPath: url.path) else { continue }
                let file = try FeatureFile(url: url)
                let keys = try file.readStrings("keys")
                guard let i = keys.firstIndex(of: key) else { continue }
                found = true
                let valid = try file.readInt64s("valid")[i]
                var line = "\(feature): valid=\(valid)"
                let names = try file.datasetNames()
                if names.contains("features") {
                    let shape = try file.shape(of: "features")
                    let row = try file.readFloatRows("features", rows: i..<(i + 1))
                    line += " features\(Array(shape.dropFirst())) min=\(row.min() ?? 0) max=\(row.max() ?? 0)"
                }
                if names.contains("offsets") {
                    let off = try file.readInt64s("offsets")
                    let shape = try file.shape(of: "values")
                    let rows = Int(off[i])..<Int(off[i + 1])
                    let dims = ([rows.count] + shape.dropFirst()).map(String.init).joined(separator: ", ")
                    if try file.elementType(of: "values") == .float32 {
                        let v = rows.isEmpty ? [] : try file.readFloatRows("values", rows: rows)
                        line += " values[\(dims)] min=\(v.min() ?? 0) max=\(v.max() ?? 0)"
                    } else {
                        line += " values[\(dims)] \(try file.elementType(of: "values").rawValue)"
                    }
                }
                for extra in ["n_frames", "total_frames", "n_faces", "n_valid", "n_tokens", "truncated"] where names.contains(extra) {
                    line += " \(extra)=\(try file.readInt64s(extra)[i])"
                }
                print(line)
            }
            if !found { throw ConfigurationError("no cached features for \(key) under \(root.path)") }
        }
    }
}
