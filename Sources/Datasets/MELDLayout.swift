import Foundation

/// Where a MELD.Raw copy keeps its CSVs and clips, found by searching: layouts vary (`MELD.Raw/train/
/// train_splits`, `MELD.Raw/MELD.Raw/...`, flat), so nothing is hard-coded beyond the folder names.
public struct MELDLayout: Sendable {
    public let root: URL
    /// Folder name of each split's clips, as the upstream tarballs unpack.
    public static let clipFolders: [Split: String] = [
        .train: "train_splits", .dev: "dev_splits_complete", .test: "output_repeated_splits_test",
    ]
    static let maxDepth = 4
    /// Files and folders found below root (bounded depth), by name.
    private let files: [String: [URL]]
    private let folders: [String: [URL]]

    /// - Throws: `DatasetError.rootNotFound` if the folder does not exist.
    public init(root: URL) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError.rootNotFound(root.path)
        }
        self.root = root
        var files: [String: [URL]] = [:], folders: [String: [URL]] = [:]
        // Breadth-first, so the shallowest match wins; clip folders are not descended into.
        var level = [root]
        for _ in 0...MELDLayout.maxDepth {
            var next: [URL] = []
            for dir in level {
                let entries = (try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: [.isDirectoryKey])) ?? []
                for e in entries.sorted(by: { $0.path < $1.path }) where !e.lastPathComponent.hasPrefix(".") {
                    if (try? e.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true {
                        folders[e.lastPathComponent, default: []].append(e)
                        if !MELDLayout.clipFolders.values.contains(e.lastPathComponent) { next.append(e) }
                    } else if e.pathExtension == "csv" {
                        files[e.lastPathComponent, default: []].append(e)
                    }
                }
            }
            level = next
        }
        self.files = files
        self.folders = folders
    }

    /// `train_sent_emo.csv` (etc.) anywhere below root, the shallowest first.
    public func csvURL(for split: Split) -> URL? { files["\(split.rawValue)_sent_emo.csv"]?.first }

    /// Reads and parses one split's annotations.
    public func loadAnnotations(split: Split) throws -> (utterances: [Utterance], errors: [CSVRowError]) {
        guard let url = csvURL(for: split) else { throw DatasetError.csvNotFound(split: split, searched: [root.path]) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw DatasetError.unreadable(path: url.path, message: error.localizedDescription)
        }
        return try MELDAnnotations.parse(data, split: split, path: url.path)
    }

    /// The split's clip folder, if present.
    public func clipFolder(for split: Split) -> URL? { folders[MELDLayout.clipFolders[split]!]?.first }

    /// Clip files by clip name (`dia0_utt0`). In the test folder `final_videos_testdiaX_uttY.mp4` is an
    /// alternate of `diaX_uttY.mp4`: the plain name wins; the prefixed one is used only when the plain is absent.
    public func clips(for split: Split) -> [String: URL] {
        guard let dir = clipFolder(for: split),
              let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [:] }
        var plain: [String: URL] = [:], alternates: [String: URL] = [:]
        for name in names where name.hasSuffix(".mp4") && !name.hasPrefix(".") {
            let stem = String(name.dropLast(4))
            if stem.hasPrefix("final_videos_test") {
                alternates[String(stem.dropFirst("final_videos_test".count))] = dir.appendingPathComponent(name)
            } else if stem.hasPrefix("dia") {
                plain[stem] = dir.appendingPathComponent(name)
            }
        }
        return alternates.merging(plain) { _, p in p }
    }

    /// Clip files in a split folder that have no annotated row (for `probe` to list).
    public func unannotatedClips(for split: Split, annotated: Set<UtteranceKey>) -> [URL] {
        let names = Set(annotated.filter { $0.split == split }.map(\.clipName))
        return clips(for: split).filter { !names.contains($0.key) }.map(\.value).sorted { $0.path < $1.path }
    }
}
