import FeatureStore
import Foundation
import TestSupport
import XCTest

/// A synthetic feature in the cache layout: per-item keys/IDs/validity/counts, a fixed-shape `features`
/// `[n, 13, 401]` array chunked by item, a `values [sum T, 40]` sequence with `offsets [n+1]` and per-frame
/// `frame_times [sum T]`, and a per-shard partial statistic. Every value is a function of (shard, item, position),
/// so the expected concatenation is easy to rebuild.
struct SyntheticShard {
    static let mfcc = [13, 401]
    static let bands = 40

    var index: Int
    /// Frame counts of the items (0 = an item with no sequence rows, e.g. a failed one).
    var frames: [Int]
    var featureRowShape: [Int] = SyntheticShard.mfcc

    var n: Int { frames.count }
    var fingerprint: String { "fp-\(index)" }
    var fileName: String { String(format: "train-%05d.h5", index) }

    var keys: [String] { (0..<n).map { "train/dia\(index)_utt\($0)" + ($0 == 1 ? "-é😀" : "") } }
    var dialogueIDs: [Int32] { (0..<n).map { Int32(index * 100 + $0) } }
    var valid: [UInt8] { frames.map { $0 > 0 ? 1 : 0 } }
    var nFrames: [Int32] { frames.map(Int32.init) }

    var features: [Float] {
        let per = featureRowShape.reduce(1, *)
        return (0..<n).flatMap { i in (0..<per).map { j in Float(index * 1000 + i) + Float(j % 997) * 0.25 } }
    }

    var values: [Float] {
        var out: [Float] = []
        for (i, t) in frames.enumerated() {
            for f in 0..<t {
                for b in 0..<Self.bands { out.append(Float(index) * 10_000 + Float(i) * 100 + Float(f) + Float(b) / 64) }
            }
        }
        return out
    }

    var offsets: [Int64] { frames.reduce(into: [Int64(0)]) { $0.append($0.last! + Int64($1)) } }

    var frameTimes: [Float] { frames.flatMap { t in (0..<t).map { Float($0) * 0.01 } } }

    var content: ShardContent {
        ShardContent(columns: [
            Column(name: "keys", data: .strings(keys), indexMode: .copy),
            Column(name: "dialogue_id", data: .int32(dialogueIDs), indexMode: .copy),
            Column(name: "valid", data: .uint8(valid), indexMode: .copy),
            Column(name: "features", data: .float32(features), rowShape: featureRowShape, chunkRows: 1, indexMode: .virtual),
            Column(name: "values", data: .float32(values), rowShape: [Self.bands], chunkRows: 64, indexMode: .virtual),
            Column(name: "offsets", data: .int64(offsets), indexMode: .offsets),
            Column(name: "frame_times", data: .float32(frameTimes), chunkRows: 1024, indexMode: .virtual),
            Column(name: "n_frames", data: .int32(nFrames), indexMode: .copy),
            Column(name: "partial_sum", data: .float64([Double(index), Double(n)]), indexMode: .perShard),
        ], attributes: [
            "fingerprint": .string(fingerprint),
            "split": .string("train"),
            "shard": .int(Int64(index)),
        ])
    }
}

/// A folder with three shards under `shards/` and an index `train.h5` over them.
struct SyntheticCache {
    static let frames: [[Int]] = [[5, 0, 7], [3, 3, 1, 9], [0, 0]]   // the last shard has no sequence rows at all

    var root: URL
    var shards: [SyntheticShard] = SyntheticCache.frames.enumerated().map { SyntheticShard(index: $0.offset, frames: $0.element) }

    var index: URL { root.appendingPathComponent("train.h5") }
    var shardsDir: URL { root.appendingPathComponent("shards") }
    func url(_ shard: SyntheticShard) -> URL { shardsDir.appendingPathComponent(shard.fileName) }
    var refs: [ShardRef] { shards.map { ShardRef(url: url($0), expectedFingerprint: $0.fingerprint) } }

    static let labels = Column(name: "emotion", data: .int32([0, 1, 2, 3, 4, 5, 6, 0, 1]), indexMode: .copy)
    static let attributes: [String: AttributeValue] = [
        "fingerprint": .string("index-fp"),
        "emotion_labels": .strings(["neutral", "joy", "surprise", "anger", "sadness", "disgust", "fear"]),
        "params": .string(#"{"n_mfcc":13}"#),
        "layout_version": .int(1),
        "scale": .double(0.5),
        "weights": .doubles([1.5, -2]),
        "sizes": .ints([3, 4, 2]),
        "nothing": .strings([]),
    ]

    init(root: URL) { self.root = root }

    func writeShards() throws {
        try FileManager.default.createDirectory(at: shardsDir, withIntermediateDirectories: true)
        for shard in shards { try ShardWriter.write(shard.content, to: url(shard)) }
    }

    func writeIndex() throws {
        try IndexWriter.write(to: index, shards: refs, extraColumns: [Self.labels], attributes: Self.attributes)
    }

    static func make(_ label: String) throws -> SyntheticCache {
        let cache = SyntheticCache(root: try TestPaths.makeTempDir(label))
        try cache.writeShards()
        try cache.writeIndex()
        return cache
    }

    // The expected index contents.
    var keys: [String] { shards.flatMap(\.keys) }
    var features: [Float] { shards.flatMap(\.features) }
    var values: [Float] { shards.flatMap(\.values) }
    var frameTimes: [Float] { shards.flatMap(\.frameTimes) }
    var offsets: [Int64] { shards.flatMap(\.frames).reduce(into: [Int64(0)]) { $0.append($0.last! + Int64($1)) } }
    var nItems: Int { shards.reduce(0) { $0 + $1.n } }
}

/// Debian's python3 with h5py, or a skip naming what is missing.
func requireH5py() throws -> String {
    let python = "/usr/bin/python3"
    guard FileManager.default.isExecutableFile(atPath: python),
          try runProcess(python, ["-c", "import h5py, numpy"]).status == 0 else {
        throw XCTSkip("/usr/bin/python3 with h5py and numpy is not installed (apt-get install python3-h5py)")
    }
    return python
}

/// h5dump's path, or a skip.
func requireH5dump() throws -> String {
    for path in ["/usr/bin/h5dump", "/usr/local/bin/h5dump"] where FileManager.default.isExecutableFile(atPath: path) {
        return path
    }
    throw XCTSkip("h5dump is not installed (apt-get install hdf5-tools)")
}

/// Runs a Python snippet with Debian's h5py that prints one JSON object; the working directory is `/`, so
/// relative VDS paths must resolve against the index file's folder, not the working directory.
func runH5pyJSON(_ script: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let python = try requireH5py()
    let r = try runProcess(python, ["-c", script] + arguments, currentDirectory: URL(fileURLWithPath: "/"))
    XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
    guard let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
        XCTFail("not a JSON object: \(r.stdout)\n\(r.stderr)", file: file, line: line)
        return [:]
    }
    return object
}

/// The h5py reader a trainer would write (the README snippet), printing what it read as JSON.
let trainerScript = #"""
import h5py, json, sys
with h5py.File(sys.argv[1], 'r') as f:
    keys = f['keys'].asstr()[:]                 # fixed-length UTF-8 strings
    feats = f['features']                       # [N, 13, 401] float32, a virtual dataset over the shards
    offsets = f['offsets'][:]                   # [N+1] int64, global
    values = f['values']                        # [sum T, 40] float32
    i = 4
    item = values[offsets[i]:offsets[i + 1]]    # item i's frames, [T_i, 40]
    out = dict(
        keys=list(keys),
        features_shape=list(feats.shape),
        features_virtual=feats.is_virtual,
        features_sources=sorted({s.file_name for s in feats.virtual_sources()}),
        features_sum=float(feats[:].astype('float64').sum()),
        feature_row2=[float(x) for x in feats[2, 0, :5]],
        values_shape=list(values.shape),
        offsets=[int(o) for o in offsets],
        item4=[float(x) for x in item.reshape(-1)],
        frame_times=[float(x) for x in f['frame_times'][:]],
        valid=[int(v) for v in f['valid'][:]],
        emotion=[int(v) for v in f['emotion'][:]],
        datasets=sorted(f.keys()),
        fingerprint_type=type(f.attrs['fingerprint']).__name__,
        fingerprint=f.attrs['fingerprint'],
        labels=[str(s) for s in f.attrs['emotion_labels']],
        layout_version=int(f.attrs['layout_version']),
    )
print(json.dumps(out))
"""#
