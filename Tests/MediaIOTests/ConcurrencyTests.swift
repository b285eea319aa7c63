import Foundation
import MediaIO
import XCTest

/// Each call owns its FFmpeg handles, so clips can be decoded from many threads at once.
final class ConcurrencyTests: XCTestCase {
    func testConcurrentDecodesGiveTheSerialResults() throws {
        let clips = try MediaFixtures.clips()
        let urls = [clips.stereo48k, clips.mono44k, clips.surround48k, clips.tiny, clips.truncated, clips.videoOnly]
        func outcome(_ url: URL) -> String {
            do {
                let audio = try AudioDecoder.decodeMono(url: url)
                return "ok \(audio.samples.count) \(audio.samples.reduce(0, +).bitPattern)"
            } catch let error as MediaError {
                return "\(error.reason.rawValue) \(error.message)"
            } catch {
                return "other \(error)"
            }
        }
        let expected = urls.map(outcome)
        let rounds = 4
        let jobs = (0..<(urls.count * rounds)).map { urls[$0 % urls.count] }
        let lock = NSLock()
        var results = [String?](repeating: nil, count: jobs.count)
        DispatchQueue.concurrentPerform(iterations: jobs.count) { i in
            let value = outcome(jobs[i])
            lock.lock(); results[i] = value; lock.unlock()
        }
        for (i, result) in results.enumerated() {
            XCTAssertEqual(result, expected[i % urls.count], "job \(i): \(jobs[i].lastPathComponent)")
        }
        XCTAssertTrue(expected[4].contains("moov atom not found"), "each thread quotes its own FFmpeg log line")
    }

    func testBenchmarkHook() throws {
        let clips = try MediaFixtures.clips()
        let seconds = try MediaBenchmark.timeDecode(urls: [clips.stereo48k, clips.surround48k], sampleRate: 16000)
        XCTAssertGreaterThan(seconds, 0)
        print("[bench] 2 clips of 2 s decoded in \(seconds) s")
    }
}
