import Foundation
import MediaIO
import TestSupport
import XCTest

/// `AudioDecoder.decodeMono` against the ffmpeg CLI's own decode (`-ac 1 -ar 16000 -f f32le`) of the same clip.
final class AudioDecoderTests: XCTestCase {
    /// Largest absolute sample difference allowed against the CLI. Both run the same libavcodec and
    /// libswresample with the same options, so the expected difference is 0; the margin only absorbs
    /// floating-point differences should FFmpeg ever pick another SIMD path.
    static let tolerance: Float = 1e-4

    /// Decodes `clip` and compares it with the CLI: equal sample count, every sample within `tolerance`.
    @discardableResult
    func assertMatchesCLI(_ clip: URL, label: String, channels: Int, rate: Int,
                          file: StaticString = #filePath, line: UInt = #line) throws -> DecodedAudio {
        let reference = try MediaFixtures.reference(clip)
        let audio = try AudioDecoder.decodeMono(url: clip)
        XCTAssertEqual(audio.sampleRate, 16000, file: file, line: line)
        XCTAssertEqual(audio.sourceChannels, channels, "\(label): source channels", file: file, line: line)
        XCTAssertEqual(audio.sourceSampleRate, rate, "\(label): source rate", file: file, line: line)
        XCTAssertEqual(audio.codec, "aac", file: file, line: line)
        XCTAssertEqual(audio.rejectedPackets, 0, file: file, line: line)
        XCTAssertEqual(audio.samples.count, reference.count, "\(label): sample count vs ffmpeg CLI", file: file, line: line)
        guard audio.samples.count == reference.count else { return audio }
        let (worst, at) = Golden.maxAbsDiff(audio.samples, reference)
        print("[parity] \(label): \(audio.samples.count) samples, max |ours - ffmpeg CLI| = \(worst) at \(at) (tolerance \(Self.tolerance))")
        XCTAssertLessThanOrEqual(worst, Self.tolerance, "\(label): sample \(at) differs from the ffmpeg CLI", file: file, line: line)
        XCTAssertGreaterThan(audio.samples.map(abs).max() ?? 0, 0.01, "\(label): output is silent", file: file, line: line)
        return audio
    }

    func testStereo48kMatchesFFmpegCLI() throws {
        let audio = try assertMatchesCLI(try MediaFixtures.clips().stereo48k, label: "AAC 48 kHz stereo", channels: 2, rate: 48000)
        // 2 s of audio; the CLI keeps the AAC encoder's end padding (< one 1024-sample frame), so do we.
        XCTAssertEqual(audio.duration, 2.0, accuracy: 1024.0 / 48000 + 0.002)
    }

    func testMono44kMatchesFFmpegCLI() throws {
        try assertMatchesCLI(try MediaFixtures.clips().mono44k, label: "AAC 44.1 kHz mono", channels: 1, rate: 44100)
    }

    func testSurround51MatchesFFmpegCLI() throws {
        try assertMatchesCLI(try MediaFixtures.clips().surround48k, label: "AAC 48 kHz 5.1", channels: 6, rate: 48000)
    }

    /// The encoder's 1024 priming samples are dropped by libavcodec (MP4 edit list -> skip_samples side data):
    /// a 440 Hz sine that starts at t = 0 must start at once, not after 1024/48000 s of near-silence.
    func testPrimingSamplesAreSkipped() throws {
        let audio = try AudioDecoder.decodeMono(url: try MediaFixtures.clips().stereo48k)
        // Left is a 440 Hz sine of amplitude 1/8, downmixed at -3 dB: it reaches its first peak within 1/440 s.
        let firstMillis = audio.samples.prefix(40).map(abs).max() ?? 0
        XCTAssertGreaterThan(firstMillis, 0.05, "the first 2.5 ms are silent: the priming was not skipped")
    }

    func testOtherOutputRateMatchesFFmpegCLI() throws {
        let clip = try MediaFixtures.clips().stereo48k
        let reference = try MediaFixtures.reference(clip, sampleRate: 22050)
        let audio = try AudioDecoder.decodeMono(url: clip, sampleRate: 22050)
        XCTAssertEqual(audio.samples.count, reference.count)
        guard audio.samples.count == reference.count else { return }
        let (worst, at) = Golden.maxAbsDiff(audio.samples, reference)
        print("[parity] AAC 48 kHz stereo -> 22.05 kHz: max error \(worst) at \(at)")
        XCTAssertLessThanOrEqual(worst, Self.tolerance)
    }

    func testTinyClipDecodes() throws {
        let clip = try MediaFixtures.clips().tiny
        let audio = try AudioDecoder.decodeMono(url: clip)
        print("[tiny] 0.05 s clip -> \(audio.samples.count) samples")
        XCTAssertGreaterThan(audio.samples.count, 0)
        XCTAssertEqual(audio.samples.count, try MediaFixtures.reference(clip).count)
    }

    func testSixtySecondClipHasTheRightLength() throws {
        let clip = try MediaFixtures.clips().long
        let audio = try AudioDecoder.decodeMono(url: clip)
        // 60 s at 16 kHz, give or take one AAC frame (1024 samples at 48 kHz = 342 at 16 kHz).
        XCTAssertEqual(Double(audio.samples.count), 60 * 16000, accuracy: 1024.0 / 3)
        let reference = try MediaFixtures.reference(clip)
        XCTAssertEqual(audio.samples.count, reference.count)
        if audio.samples.count == reference.count {
            let (worst, at) = Golden.maxAbsDiff(audio.samples, reference)
            print("[parity] 60 s clip: \(audio.samples.count) samples, max error \(worst) at \(at)")
            XCTAssertLessThanOrEqual(worst, Self.tolerance)
        }
    }

    /// Packets the decoder rejects are skipped and the rest decoded, as the CLI does ("Error while decoding
    /// stream", then on): same samples as the CLI, and the rejections counted.
    func testDamagedPacketsAreSkippedLikeTheCLI() throws {
        let clip = try MediaFixtures.clips().damaged
        let reference = try MediaFixtures.reference(clip)
        let audio = try AudioDecoder.decodeMono(url: clip)
        print("[damaged] \(audio.rejectedPackets) packets rejected; \(audio.samples.count) samples, CLI \(reference.count)")
        XCTAssertGreaterThan(audio.rejectedPackets, 0)
        XCTAssertEqual(audio.samples.count, reference.count)
        if audio.samples.count == reference.count {
            XCTAssertLessThanOrEqual(Golden.maxAbsDiff(audio.samples, reference).value, Self.tolerance)
        }
        let probe = MediaProber.probe(url: clip)
        XCTAssertNil(probe.reason)
        XCTAssertEqual(probe.audioDecodable, true)
        XCTAssertTrue(probe.message?.contains("failed to decode and were skipped") == true, probe.message ?? "nil")
    }

    func testOutOfRangeSampleRateIsAResampleError() throws {
        let clip = try MediaFixtures.clips().stereo48k
        XCTAssertThrowsError(try AudioDecoder.decodeMono(url: clip, sampleRate: 0)) { error in
            XCTAssertEqual((error as? MediaError)?.reason, .resampleFailed)
        }
    }
}
