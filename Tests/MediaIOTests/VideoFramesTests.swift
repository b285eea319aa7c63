import Foundation
import MediaIO
import TestSupport
import XCTest

/// `VideoFrameSampler.sample` against the ffmpeg CLI's own frames
/// (`-vf "select=not(mod(n\,<stride>))" -vsync 0 -f rawvideo -pix_fmt rgb24`) of the same clip.
final class VideoFramesTests: XCTestCase {
    /// Largest difference allowed per channel value against the CLI. Both run the same libavcodec and the same
    /// libswscale conversion set up the same way, so the expected difference is 0; the margin of 1 is the one the
    /// issue allows for rounding, should FFmpeg pick another SIMD path.
    static let tolerance = 1

    /// Samples `clip` every `stride` frames and compares with the CLI: same number of frames, indices 0, stride,
    /// 2 × stride, …, every channel value within `tolerance`.
    @discardableResult
    func assertMatchesCLI(_ clip: URL, label: String, stride: Int, width: Int, height: Int, rejectedPackets: ClosedRange<Int> = 0...0,
                          file: StaticString = #filePath, line: UInt = #line) throws -> VideoInfo {
        let reference = try VideoFixtures.reference(clip, stride: stride)
        let frameBytes = width * height * 3
        XCTAssertEqual(reference.count % frameBytes, 0, "\(label): the CLI wrote a partial frame", file: file, line: line)
        let expectedFrames = reference.count / frameBytes
        XCTAssertGreaterThan(expectedFrames, 0, "\(label): the CLI wrote no frames", file: file, line: line)

        var kept = 0, worst = 0, worstAt = (frame: 0, byte: 0)
        let info = try VideoFrameSampler.sample(url: clip, stride: stride) { frame in
            XCTAssertEqual(frame.index, kept * stride, "\(label): kept frame \(kept)", file: file, line: line)
            XCTAssertEqual(frame.width, width, file: file, line: line)
            XCTAssertEqual(frame.height, height, file: file, line: line)
            XCTAssertEqual(frame.pixels.count, frameBytes, file: file, line: line)
            if kept < expectedFrames, frame.pixels.count == frameBytes {
                reference.withUnsafeBytes { raw in
                    let cli = raw.bindMemory(to: UInt8.self).baseAddress! + kept * frameBytes
                    for i in 0..<frameBytes {
                        let difference = abs(Int(frame.pixels[i]) - Int(cli[i]))
                        if difference > worst { worst = difference; worstAt = (kept, i) }
                    }
                }
            }
            kept += 1
            return true
        }
        XCTAssertEqual(kept, expectedFrames, "\(label), every \(stride): frame count vs ffmpeg CLI", file: file, line: line)
        print("[parity] \(label), every \(stride): \(kept) of \(info.decodedFrames) frames, max |ours - ffmpeg CLI| = \(worst)"
              + " (kept frame \(worstAt.frame), byte \(worstAt.byte); tolerance \(Self.tolerance))")
        XCTAssertLessThanOrEqual(worst, Self.tolerance, "\(label), every \(stride): kept frame \(worstAt.frame) byte \(worstAt.byte) differs from the ffmpeg CLI",
                                 file: file, line: line)
        XCTAssertEqual(info.width, width, file: file, line: line)
        XCTAssertEqual(info.height, height, file: file, line: line)
        XCTAssertTrue(rejectedPackets.contains(info.rejectedPackets), "\(label): \(info.rejectedPackets) rejected packets", file: file, line: line)
        return info
    }

    // MARK: Golden: the CLI's rgb24 frames

    func testMainClipMatchesFFmpegCLI() throws {
        let clip = try VideoFixtures.clips().main
        for stride in [10, 3] {
            let info = try assertMatchesCLI(clip, label: "320x180 H.264 4:2:0 with B-frames", stride: stride, width: 320, height: 180)
            XCTAssertEqual(info.decodedFrames, 72)
            XCTAssertEqual(info.frameCountHint, 72)
            XCTAssertEqual(info.fps ?? 0, VideoFixtures.fps, accuracy: 1e-9)
        }
    }

    func testBT709ClipMatchesFFmpegCLI() throws {
        try assertMatchesCLI(try VideoFixtures.clips().bt709, label: "320x180 BT.709 limited range", stride: 10, width: 320, height: 180)
    }

    func testOddSizedClipsMatchFFmpegCLI() throws {
        let clips = try VideoFixtures.clips()
        for stride in [10, 3] {
            try assertMatchesCLI(clips.odd444, label: "321x241 H.264 4:4:4", stride: stride, width: 321, height: 241)
            try assertMatchesCLI(clips.odd420, label: "321x241 MPEG-4 4:2:0", stride: stride, width: 321, height: 241)
        }
    }

    func testPortraitClipMatchesFFmpegCLI() throws {
        let clip = try VideoFixtures.clips().portrait
        for stride in [10, 3] {
            try assertMatchesCLI(clip, label: "180x320 portrait", stride: stride, width: 180, height: 320)
        }
    }

    func testStrideOneKeepsEveryFrame() throws {
        let info = try assertMatchesCLI(try VideoFixtures.clips().main, label: "320x180", stride: 1, width: 320, height: 180)
        XCTAssertEqual(info.decodedFrames, 72)
    }

    func testThreadCountDoesNotChangeTheFrames() throws {
        let clip = try VideoFixtures.clips().main
        func digest(threads: Int) throws -> [Int] {
            var sums: [Int] = []
            try VideoFrameSampler.sample(url: clip, stride: 7, threads: threads) { frame in
                sums.append(frame.pixels.reduce(0) { $0 &+ Int($1) })
                return true
            }
            return sums
        }
        let expected = try digest(threads: 2)
        XCTAssertEqual(expected.count, 11)
        for threads in [0, 1, 4] { XCTAssertEqual(try digest(threads: threads), expected, "\(threads) threads") }
    }

    // MARK: Times

    func testTimesAreIndexOverFrameRate() throws {
        let clip = try VideoFixtures.clips().main
        for stride in [10, 3] {
            var times: [(index: Int, time: Double)] = []
            try VideoFrameSampler.sample(url: clip, stride: stride) { frame in
                times.append((frame.index, frame.time))
                return true
            }
            XCTAssertEqual(times.count, (72 + stride - 1) / stride)
            for (k, entry) in times.enumerated() {
                XCTAssertEqual(entry.index, k * stride)
                XCTAssertEqual(entry.time, Double(k * stride) / VideoFixtures.fps, accuracy: 1e-6, "frame \(entry.index)")
            }
        }
    }

    // MARK: Edge cases and errors

    func testOneFrameClipYieldsFrameZero() throws {
        var frames: [RGBFrame] = []
        let info = try VideoFrameSampler.sample(url: try VideoFixtures.clips().oneFrame) { frames.append($0); return true }
        XCTAssertEqual(frames.map(\.index), [0])
        XCTAssertEqual(frames.first?.time ?? -1, 0, accuracy: 1e-9)
        XCTAssertEqual(frames.first?.pixels.count, 320 * 180 * 3)
        XCTAssertEqual(info.decodedFrames, 1)
    }

    func testReturningFalseStopsEarly() throws {
        var calls = 0
        let info = try VideoFrameSampler.sample(url: try VideoFixtures.clips().main, stride: 10) { _ in
            calls += 1
            return calls < 2
        }
        XCTAssertEqual(calls, 2, "body is not called again after it returns false")
        XCTAssertGreaterThanOrEqual(info.decodedFrames, 11)
        XCTAssertLessThan(info.decodedFrames, 72, "decoding stopped early")
    }

    func testErrorsFromBodyPropagate() throws {
        struct Stop: Error {}
        XCTAssertThrowsError(try VideoFrameSampler.sample(url: try VideoFixtures.clips().main) { _ in throw Stop() }) {
            XCTAssertTrue($0 is Stop)
        }
    }

    func testAudioOnlyClipHasNoVideoStream() throws {
        try assertReason(.noVideoStream, try VideoFixtures.clips().audioOnly, mentions: "no video stream")
    }

    func testMissingFile() throws {
        try assertReason(.missingFile, try VideoFixtures.clips().missing, mentions: "no such file")
    }

    func testNotMediaIsUnreadableContainer() throws {
        try assertReason(.unreadableContainer, try VideoFixtures.clips().notMedia, mentions: "could not open the container")
    }

    func testBadArgumentsAreRejected() throws {
        let clip = try VideoFixtures.clips().main
        XCTAssertThrowsError(try VideoFrameSampler.sample(url: clip, stride: 0) { _ in true }) {
            XCTAssertEqual(($0 as? MediaError)?.reason, .decodeFailed)
        }
        XCTAssertThrowsError(try VideoFrameSampler.sample(url: clip, threads: -1) { _ in true }) {
            XCTAssertEqual(($0 as? MediaError)?.reason, .decodeFailed)
        }
    }

    /// An MP4 with its moov atom first, cut to 60% of its bytes: the documented behaviour is a partial result,
    /// not an error. The frames before the cut are streamed (the same frames the CLI writes for the cut file),
    /// the packet the cut goes through (read partial, flagged corrupt) may be rejected by the decoder and
    /// counted, the call returns, and `decodedFrames` falls short of `frameCountHint`.
    func testFileCutAfterHeaderYieldsTheFramesBeforeTheCut() throws {
        let clip = try VideoFixtures.clips().cutAfterHeader
        let info = try assertMatchesCLI(clip, label: "cut after header", stride: 10, width: 320, height: 180, rejectedPackets: 0...1)
        XCTAssertEqual(info.frameCountHint, 72, "the moov atom still declares the whole clip")
        XCTAssertGreaterThan(info.decodedFrames, 10)
        XCTAssertLessThan(info.decodedFrames, 72)
        print("[cut] 60% of a faststart MP4: \(info.decodedFrames) of \(info.frameCountHint ?? 0) frames decoded, "
              + "\(info.rejectedPackets) packet(s) rejected, no error")
    }

    /// The sampler runs its own decoder threads; calls from several threads at once give the serial results.
    func testConcurrentSamplesGiveTheSerialResults() throws {
        let clips = try VideoFixtures.clips()
        let urls = [clips.main, clips.portrait, clips.odd420, clips.cutAfterHeader]
        func digest(_ url: URL) -> String {
            var sums: [Int] = []
            do {
                try VideoFrameSampler.sample(url: url, stride: 5) { frame in
                    sums.append(frame.pixels.reduce(0) { $0 &+ Int($1) })
                    return true
                }
                return "\(sums)"
            } catch {
                return "\(error)"
            }
        }
        let expected = urls.map(digest)
        let lock = NSLock()
        var results = [String?](repeating: nil, count: urls.count * 2)
        DispatchQueue.concurrentPerform(iterations: results.count) { i in
            let value = digest(urls[i % urls.count])
            lock.lock(); results[i] = value; lock.unlock()
        }
        for (i, result) in results.enumerated() {
            XCTAssertEqual(result, expected[i % urls.count], "job \(i): \(urls[i % urls.count].lastPathComponent)")
        }
    }

    // MARK: Memory

    /// A 300 s 1280x720 clip streams in bounded memory: the peak resident set grows by far less than the 2 GB its
    /// 720 kept RGB frames would take, or the 20 GB of all 7200 frames.
    func testLongClipStreamsInBoundedMemory() throws {
        let clip = try VideoFixtures.long()
        let resetPeak = ProcessMemory.resetPeak()
        let before = resetPeak ? ProcessMemory.kilobytes("VmRSS") : ProcessMemory.kilobytes("VmHWM")
        var kept = 0, lastIndex = -1
        let start = Date()
        let info = try VideoFrameSampler.sample(url: clip, stride: 10) { frame in
            XCTAssertEqual(frame.pixels.count, 1280 * 720 * 3)
            kept += 1
            lastIndex = frame.index
            return true
        }
        let seconds = Date().timeIntervalSince(start)
        let peak = ProcessMemory.kilobytes("VmHWM")
        let growthMB = Double(max(peak - before, 0)) / 1024
        print(String(format: "[memory] 300 s 1280x720: %d frames decoded, %d kept in %.1f s; peak RSS %.1f MB, %.1f MB above the start (%@)",
                     info.decodedFrames, kept, seconds, Double(peak) / 1024, growthMB,
                     resetPeak ? "peak reset through /proc/self/clear_refs" : "VmHWM before/after"))
        XCTAssertEqual(info.decodedFrames, 7200)
        XCTAssertEqual(kept, 720)
        XCTAssertEqual(lastIndex, 7190)
        XCTAssertLessThan(growthMB, 300, "peak resident memory grew by \(growthMB) MB")
    }
}

extension VideoFramesTests {
    func assertReason(_ reason: MediaError.Reason, _ clip: URL, mentions text: String,
                      file: StaticString = #filePath, line: UInt = #line) throws {
        var called = false
        XCTAssertThrowsError(try VideoFrameSampler.sample(url: clip) { _ in called = true; return true }, file: file, line: line) { error in
            guard let error = error as? MediaError else { return XCTFail("not a MediaError: \(error)", file: file, line: line) }
            XCTAssertEqual(error.reason, reason, "\(error)", file: file, line: line)
            XCTAssertEqual(error.path, clip.path, file: file, line: line)
            XCTAssertTrue(error.message.contains(text), "\(error.message) should mention '\(text)'", file: file, line: line)
        }
        XCTAssertFalse(called, file: file, line: line)
    }
}

/// This process's memory as Linux reports it in `/proc/self/status`.
enum ProcessMemory {
    /// A field of `/proc/self/status` in kB ("VmRSS", "VmHWM"), or 0 where there is none (not Linux).
    static func kilobytes(_ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") ?? 0
        }
        return 0
    }

    /// Resets the peak resident set (`VmHWM`) to the current one by writing 5 to `/proc/self/clear_refs`;
    /// false where that is not allowed.
    static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        do { try handle.write(contentsOf: Data("5".utf8)); return true } catch { return false }
    }
}
