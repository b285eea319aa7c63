import Foundation

/// Where a MELD.Raw copy keeps its CSVs and clips, found by searching (layouts vary).
///
/// The folder tree below `root` is walked once, in `init`, to a bounded depth; hidden entries are skipped
/// and the split folders themselves are not descended into. When a name occurs more than once, the
/// shallowest occurrence wins (then the first by path).
/// ```swift
/// let layout = try MELDLayout(root: URL(fileURLWithPath: "MELD.Raw"))
/// let (utterances, errors) = try layout.loadAnnotations(split: .dev)
/// let clip = layout.clips(for: .dev)[utterances[0].key.clipName]
/// ```
public struct MELDLayout: Sendable {
    public let root: URL
    /// How many folder levels below `root` are searched (`MELD.Raw/MELD.Raw/train/train_splits` is 4).
    public static let searchDepth = 5

    private let foundCSVs: [Split: URL]
    private let foundClipFolders: [Split: URL]

    /// Searches `root` for the CSVs and clip folders.
    /// - Throws: `DatasetError.rootNotFound` if `root` is not an existing folder.
    public init(root: URL) throws {
        guard isDirectory(root) else { throw DatasetError.rootNotFound(root.path) }
        self.root = root
        var csvs: [Split: (depth: Int, url: URL)] = [:]
        var folders: [Split: (depth: Int, url: URL)] = [:]
        func keep(_ found: inout [Split: (depth: Int, url: URL)], _ split: Split, _ depth: Int, _ url: URL) {
            if let old = found[split], (old.depth, old.url.path) <= (depth, url.path) { return }
            found[split] = (depth, url)
        }
        var level = [root]
        for depth in 0..<Self.searchDepth {
            var next: [URL] = []
            for dir in level {
                for url in listing(dir) {
                    let name = url.lastPathComponent
                    if let split = Split.allCases.first(where: { Self.csvName($0) == name }), !isDirectory(url) {
                        keep(&csvs, split, depth, url)
                    } else if isDirectory(url) {
                        if let split = Split.allCases.first(where: { Self.clipFolders[$0] == name }) {
                            keep(&folders, split, depth, url)
                        } else {
                            next.append(url)
                        }
                    }
                }
            }
            level = next
        }
        foundCSVs = csvs.mapValues(\.url)
        foundClipFolders = folders.mapValues(\.url)
    }

    /// `train_sent_emo.csv`, `dev_sent_emo.csv`, `test_sent_emo.csv`.
    public static func csvName(_ split: Split) -> String { "\(split.rawValue)_sent_emo.csv" }

    /// Folder name of each split's clips, as the upstream tarballs unpack.
    public static let clipFolders: [Split: String] = [
        .train: "train_splits", .dev: "dev_splits_complete", .test: "output_repeated_splits_test",
    ]

    /// The split's `*_sent_emo.csv` anywhere below root, or nil.
    public func csvURL(for split: Split) -> URL? { foundCSVs[split] }

    /// The split's clip folder anywhere below root, or nil.
    public func clipFolder(for split: Split) -> URL? { foundClipFolders[split] }

    /// Clip files by split and clip name ("dia0_utt0"), from the split folders `train_splits` (train),
    /// `dev_splits_complete` (dev), `output_repeated_splits_test` (test), found anywhere below root (also nested
    /// `MELD.Raw/MELD.Raw/...`, `MELD.Raw/train/train_splits`). In the test folder,
    /// `final_videos_testdiaX_uttY.mp4` is an alternate of `diaX_uttY.mp4`: the plain name wins; the prefixed
    /// one is used only when the plain one is absent. Ignore hidden files like `._dia0_utt0.mp4`.
    public func clips(for split: Split) -> [String: URL] {
        var plain: [String: URL] = [:], alternates: [String: URL] = [:]
        for (url, key, isAlternate) in clipFiles(split) {
            guard let key else { continue }
            if isAlternate { alternates[key.clipName] = url } else { plain[key.clipName] = url }
        }
        return plain.merging(alternates) { p, _ in p }
    }

    /// Clip files in a split folder that have no annotated row (for `probe` to list), sorted by path.
    ///
    /// This includes `.mp4` files whose names are not `diaX_uttY` at all.
    public func unannotatedClips(for split: Split, annotated: Set<UtteranceKey>) -> [URL] {
        clipFiles(split).filter { $0.key.map { !annotated.contains($0) } ?? true }.map(\.url)
            .sorted { $0.path < $1.path }
    }

    /// Reads and parses the split's CSV (see `MELDAnnotations.parse`).
    /// - Throws: `DatasetError.csvNotFound` when the split has no CSV, `.unreadable` when it cannot be read,
    ///   and what `MELDAnnotations.parse` throws.
    public func loadAnnotations(split: Split) throws -> (utterances: [Utterance], errors: [CSVRowError]) {
        guard let url = csvURL(for: split) else {
            throw DatasetError.csvNotFound(split: split, searched: [
                "\(Self.csvName(split)) up to \(Self.searchDepth) folders below \(root.path)",
            ])
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DatasetError.unreadable(path: url.path, message: error.localizedDescription)
        }
        return try MELDAnnotations.parse(data, split: split, path: url.path)
    }

    /// The non-hidden `.mp4` files of the split's clip folder, with the key their name gives (nil when it
    /// gives none) and whether they carry the `final_videos_test` prefix.
    private func clipFiles(_ split: Split) -> [(url: URL, key: UtteranceKey?, isAlternate: Bool)] {
        guard let folder = foundClipFolders[split] else { return [] }
        let prefix = "final_videos_test"
        return listing(folder).compactMap { url in
            guard url.pathExtension.lowercased() == "mp4", !isDirectory(url) else { return nil }
            var name = url.deletingPathExtension().lastPathComponent
            let isAlternate = name.hasPrefix(prefix)
            if isAlternate { name.removeFirst(prefix.count) }
            return (url, UtteranceKey(split: split, clipName: name), isAlternate)
        }
    }
}

/// Whether `url` is a folder, following symlinks.
private func isDirectory(_ url: URL) -> Bool {
    var isDir: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
}

/// A folder's entries, hidden ones (`.DS_Store`, `._dia0_utt0.mp4`) left out; empty when unreadable.
private func listing(_ dir: URL) -> [URL] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
}
