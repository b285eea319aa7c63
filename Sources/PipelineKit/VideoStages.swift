import FeatureStore
import Foundation
import MediaIO

/// The sampled frames of one clip, streamed to the stages that read them. The first pass decodes the clip and
/// keeps the frames in memory while they fit in `budgetBytes`, so the stages after it (faces, clip) read them
/// without decoding again; a clip whose sampled frames do not fit (a long 720p clip) is decoded again by each
/// reader instead, so memory stays bounded whatever the clip's length.
public final class FrameSet: @unchecked Sendable {
    public let clip: URL
    public let stride: Int
    public let threads: Int
    public let budgetBytes: Int
    private var cached: [RGBFrame]?
    /// What the last full pass learnt about the stream.
    public private(set) var info: VideoInfo?

    public init(clip: URL, stride: Int, threads: Int, budgetBytes: Int = 192 << 20) {
        self.clip = clip
        self.stride = stride
        self.threads = threads
        self.budgetBytes = budgetBytes
    }

    /// Calls `body` with every sampled frame in order.
    /// - Throws: `ItemFailure` with the media reason (`no_video_stream`, `corrupt_container`, ...) or what `body` throws.
    public func forEach(_ body: (RGBFrame) throws -> Void) throws {
        if let cached {
            for f in cached { try body(f) }
            return
        }
        var keep: [RGBFrame]? = []
        var bytes = 0
        do {
            info = try VideoFrameSampler.sample(url: clip, stride: stride, threads: threads) { frame in
                if keep != nil {
                    bytes += frame.pixels.count
                    if bytes <= budgetBytes { keep!.append(frame) } else { keep = nil }
                }
                try body(frame)
                return true
            }
        } catch let e as MediaError {
            throw ItemFailure(reason: e.reason.rawValue, message: e.description)
        }
        cached = keep
    }
}

/// `frames`: decode the clip's video (libavcodec, frame threads on), keep every `stride`-th frame in decode
/// order (the frames `ffmpeg -vf "select=not(mod(n\,10))"` keeps), as RGB24 (libswscale), streamed to the
/// stages that need them. Persists each kept frame's time (`values`, seconds) and index (`frame_index`).
public enum FramesStage: StageKind {
    public static let kind = "frames"
    public static let version = 1
    public static let input = StageInput.media
    public static let paramSchema: [String: ParamSpec] = [
        "stride": ParamSpec(.int, .int(10), help: "keep every Nth decoded frame (0, N, 2N, ...)"),
        "threads": ParamSpec(.int, .int(2), help: "decoder frame threads per clip"),
    ]

    public static func validate(_ p: Params) -> String? {
        if p.int("stride") < 1 { return "stride must be at least 1" }
        if !(0...16).contains(p.int("threads")) { return "threads must be between 0 (FFmpeg decides) and 16" }
        return nil
    }

    public static func make(_ spec: StageSpec, upstream: [StageSpec], environment: StageEnvironment) throws -> StageRunner {
        Runner(stride: spec.params.int("stride"), threads: spec.params.int("threads"))
    }

    final class Runner: StageRunner, @unchecked Sendable {
        let stride: Int, threads: Int
        init(stride: Int, threads: Int) { self.stride = stride; self.threads = threads }

        var output: OutputSchema? {
            OutputSchema(sequenceRowShape: [], perItemInts: ["n_frames", "decoded_frames", "width", "height"],
                         chunkRows: 1024, rowColumns: [RowColumn("frame_index", .int32)])
        }

        var attributes: [String: String] {
            ["stride": String(stride),
             "axes": "values[frame] = time of the kept frame in seconds; frame_index[frame] = its index in decode order"]
        }

        func run(_ item: ItemContext) throws -> StageValue {
            guard let clip = item.clip else {
                throw ItemFailure(reason: "missing_clip",
                                  message: "no clip \(item.utterance.key.clipName).mp4 in the \(item.utterance.key.split.rawValue) clip folder")
            }
            let set = FrameSet(clip: clip, stride: stride, threads: threads)
            var times: [Float] = [], indices: [Int32] = []
            var size = (0, 0)
            try set.forEach { f in
                times.append(Float(f.time)); indices.append(Int32(f.index)); size = (f.width, f.height)
            }
            var f = ItemFeature()
            f.sequence = times
            f.sequenceRows = times.count
            f.rowColumns = ["frame_index": .int32(indices)]
            f.perItemInts = ["n_frames": Int64(times.count), "decoded_frames": Int64(set.info?.decodedFrames ?? 0),
                             "width": Int64(size.0), "height": Int64(size.1)]
            return .frames(set, f)
        }
    }
}

extension ItemContext {
    /// The frame set of the upstream frames stage.
    public func upstreamFrames(of stage: String) throws -> FrameSet {
        guard case .frames(let set, _) = try upstream(of: stage) else {
            throw ItemFailure(reason: "internal_error", message: "\(stage) expected frames from its upstream stage")
        }
        return set
    }
}
