import Foundation
import MediaIO
import XCTest

/// Broken and unusual inputs: each gives its stable reason and a message in FFmpeg's words.
final class MediaErrorTests: XCTestCase {
    func decodeError(_ url: URL, file: StaticString = #filePath, line: UInt = #line) -> MediaError? {
        do {
            let audio = try AudioDecoder.decodeMono(url: url)
            XCTFail("\(url.lastPathComponent) decoded to \(audio.samples.count) samples; expected an error", file: file, line: line)
            return nil
        } catch let error as MediaError {
            print("[error] \(error)")
            return error
        } catch {
            XCTFail("\(url.lastPathComponent): not a MediaError: \(error)", file: file, line: line)
            return nil
        }
    }

    func testTruncatedMP4IsCorruptAndQuotesMoovAtomNotFound() throws {
        let clips = try MediaFixtures.clips()
        let error = try XCTUnwrap(decodeError(clips.truncated))
        XCTAssertEqual(error.reason, .unreadableContainer)
        XCTAssertEqual(error.reason.rawValue, "corrupt_container")
        XCTAssertEqual(error.path, clips.truncated.path)
        XCTAssertNotNil(error.code)
        XCTAssertTrue(error.message.contains("moov atom not found"), error.message)
        XCTAssertTrue(error.message.contains("Invalid data found when processing input"), error.message)
        XCTAssertTrue(error.description.contains(clips.truncated.path), error.description)
        XCTAssertTrue(error.description.contains("moov atom not found"), error.description)
    }

    func testMissingFile() throws {
        let clips = try MediaFixtures.clips()
        let error = try XCTUnwrap(decodeError(clips.missing))
        XCTAssertEqual(error.reason, .missingFile)
        XCTAssertEqual(error.reason.rawValue, "missing_file")
        XCTAssertTrue(error.description.contains(clips.missing.path))
    }

    func testVideoOnlyClipHasNoAudioStream() throws {
        let error = try XCTUnwrap(decodeError(try MediaFixtures.clips().videoOnly))
        XCTAssertEqual(error.reason, .noAudioStream)
        XCTAssertEqual(error.reason.rawValue, "no_audio_stream")
    }

    func testAudioTrackWithoutPacketsIsEmpty() throws {
        let error = try XCTUnwrap(decodeError(try MediaFixtures.clips().emptyAudio))
        XCTAssertEqual(error.reason, .emptyStream)
        XCTAssertEqual(error.reason.rawValue, "empty_stream")
    }

    func testTextFileIsCorrupt() throws {
        let error = try XCTUnwrap(decodeError(try MediaFixtures.clips().notMedia))
        XCTAssertEqual(error.reason, .unreadableContainer)
    }

    func testDirectoryIsMissingFile() throws {
        let error = try XCTUnwrap(decodeError(try MediaFixtures.clips().directory))
        XCTAssertEqual(error.reason, .missingFile)
    }

    func testReasonsAreStableCodes() {
        let all: [MediaError.Reason] = [.missingFile, .unreadableContainer, .noAudioStream, .noVideoStream,
                                        .decodeFailed, .emptyStream, .resampleFailed]
        XCTAssertEqual(all.map(\.rawValue), ["missing_file", "corrupt_container", "no_audio_stream", "no_video_stream",
                                             "decode_error", "empty_stream", "resample_error"])
    }

    /// The captured log line belongs to the thread that logged it, and `clear()` forgets it.
    func testLogCaptureIsPerThread() throws {
        let clips = try MediaFixtures.clips()
        FFmpegLog.install()
        FFmpegLog.clear()
        _ = decodeError(clips.truncated)
        XCTAssertEqual(FFmpegLog.lastMessage?.contains("moov atom not found"), true)
        // A real second thread (DispatchQueue.sync may run the block on this very thread).
        final class Seen: @unchecked Sendable { var message: String? = "not run" }  // written before signal, read after wait
        let seen = Seen()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { seen.message = FFmpegLog.lastMessage; done.signal() }
        thread.start()
        done.wait()
        XCTAssertNil(seen.message, "another thread sees this thread's FFmpeg log line")
        FFmpegLog.clear()
        XCTAssertNil(FFmpegLog.lastMessage)
    }
}
