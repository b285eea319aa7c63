import Foundation
import MediaIO
import XCTest

final class MediaProberTests: XCTestCase {
    func testGoodClipListsStreamsAndMeasuresAudio() throws {
        let clip = try MediaFixtures.clips().surround48k
        let result = MediaProber.probe(url: clip)
        XCTAssertNil(result.reason, result.message ?? "")
        XCTAssertNil(result.message)
        XCTAssertEqual(result.path, clip.path)
        XCTAssertEqual(result.format, "mov,mp4,m4a,3gp,3g2,mj2")
        XCTAssertGreaterThan(result.sizeBytes ?? 0, 0)
        XCTAssertEqual(result.duration ?? 0, 2.0, accuracy: 0.05)
        XCTAssertEqual(result.streams.map(\.type), ["video", "audio"])
        let video = result.streams[0], audio = result.streams[1]
        XCTAssertEqual(video.codec == "h264" || video.codec == "mpeg4", true, video.codec)
        XCTAssertEqual(video.width, 96)
        XCTAssertEqual(video.height, 64)
        XCTAssertEqual(video.fps ?? 0, 25, accuracy: 0.01)
        XCTAssertEqual(audio.codec, "aac")
        XCTAssertEqual(audio.sampleRate, 48000)
        XCTAssertEqual(audio.channels, 6)
        XCTAssertEqual(audio.index, 1)
        XCTAssertEqual(result.audioDecodable, true)
        // Decoded length = 2 s plus the encoder's end padding (< 1024 samples), the priming already dropped.
        let seconds = try XCTUnwrap(result.decodedAudioSeconds)
        XCTAssertGreaterThanOrEqual(seconds, 2.0 - 1e-9)
        XCTAssertLessThan(seconds, 2.0 + 1024.0 / 48000 + 1e-9)
    }

    func testWithoutDecodingLeavesDecodabilityUnknown() throws {
        let result = MediaProber.probe(url: try MediaFixtures.clips().mono44k, decodeAudio: false)
        XCTAssertNil(result.reason)
        XCTAssertNil(result.audioDecodable)
        XCTAssertNil(result.decodedAudioSeconds)
        XCTAssertEqual(result.streams.last?.channels, 1)
        XCTAssertEqual(result.streams.last?.sampleRate, 44100)
    }

    func testTruncated() throws {
        let result = MediaProber.probe(url: try MediaFixtures.clips().truncated)
        XCTAssertEqual(result.reason, "corrupt_container")
        XCTAssertTrue(result.message?.contains("moov atom not found") == true, result.message ?? "nil")
        XCTAssertEqual(result.streams, [])
        XCTAssertNil(result.audioDecodable)
        XCTAssertGreaterThan(result.sizeBytes ?? 0, 0)
    }

    /// Cut after the moov atom: decodes partially, like the CLI, and the probe warns that it is short.
    func testCutAfterHeaderDecodesPartlyWithAWarning() throws {
        let clip = try MediaFixtures.clips().cutAfterHeader
        let audio = try AudioDecoder.decodeMono(url: clip)
        XCTAssertEqual(audio.samples.count, try MediaFixtures.reference(clip).count)
        let result = MediaProber.probe(url: clip)
        XCTAssertNil(result.reason)
        XCTAssertEqual(result.audioDecodable, true)
        XCTAssertLessThan(result.decodedAudioSeconds ?? 2, 1.9)
        XCTAssertTrue(result.message?.contains("but the container declares 2.000 s") == true, result.message ?? "nil")
        print("[probe] cut after header: \(result.message ?? "nil")")
    }

    func testMissing() throws {
        let result = MediaProber.probe(url: try MediaFixtures.clips().missing)
        XCTAssertEqual(result.reason, "missing_file")
        XCTAssertNil(result.sizeBytes)
        XCTAssertEqual(result.streams, [])
    }

    func testVideoOnly() throws {
        let result = MediaProber.probe(url: try MediaFixtures.clips().videoOnly)
        XCTAssertEqual(result.reason, "no_audio_stream")
        XCTAssertEqual(result.streams.map(\.type), ["video"])
        XCTAssertNil(result.audioDecodable)
    }

    func testEmptyAudio() throws {
        let result = MediaProber.probe(url: try MediaFixtures.clips().emptyAudio)
        XCTAssertEqual(result.reason, "empty_stream")
        XCTAssertEqual(result.audioDecodable, false)
        XCTAssertEqual(result.streams.map(\.type), ["video", "audio"])
    }

    func testTinyAndLong() throws {
        let clips = try MediaFixtures.clips()
        let tiny = MediaProber.probe(url: clips.tiny)
        XCTAssertNil(tiny.reason, tiny.message ?? "")
        XCTAssertEqual(tiny.audioDecodable, true)
        XCTAssertEqual(tiny.decodedAudioSeconds ?? 0, 0.05, accuracy: 1024.0 / 48000)
        let long = MediaProber.probe(url: clips.long)
        XCTAssertNil(long.reason, long.message ?? "")
        XCTAssertEqual(long.decodedAudioSeconds ?? 0, 60, accuracy: 1024.0 / 48000)
    }

    func testResultIsCodable() throws {
        let result = MediaProber.probe(url: try MediaFixtures.clips().truncated)
        let data = try JSONEncoder().encode(result)
        let back = try JSONDecoder().decode(ProbeResult.self, from: data)
        XCTAssertEqual(back.reason, result.reason)
        XCTAssertEqual(back.message, result.message)
    }
}
