import DSP
import TestSupport
import XCTest

/// `Tests/Fixtures/dsp/manifest.json`, written by `Tools/make_dsp_goldens.py` (librosa 0.11.0).
struct DSPManifest: Decodable {
    struct Output: Decodable { var file: String; var shape: [Int] }
    struct Case: Decodable { var input: String; var samples: Int; var mfcc: Output; var logmel: Output }
    struct BankParams: Decodable { var sr: Int; var n_fft: Int; var n_mels: Int; var fmin: Double; var fmax: Double }
    struct Bank: Decodable { var file: String; var shape: [Int]; var params: BankParams }
    var cases: [String: Case]
    var filterbanks: [String: Bank]

    static func load() throws -> DSPManifest {
        try Golden.json(DSPManifest.self, TestPaths.fixture("dsp/manifest.json"))
    }

    static func floats(_ file: String) throws -> [Float] { try Golden.floats(TestPaths.fixture("dsp/\(file)")) }

    func input(_ name: String) throws -> [Float] {
        let c = try XCTUnwrap(cases[name], "no golden case \(name)")
        let y = try DSPManifest.floats(c.input)
        XCTAssertEqual(y.count, c.samples, name)
        return y
    }
}

final class GoldenTests: XCTestCase {
    static let caseNames = ["speech", "speech_5s", "silence", "tone", "short"]

    /// The MFCCConfig of the goldens: n_mfcc 13, n_fft 400, hop 160, n_mels 40, fmin 0, fmax 8000, top_db 80.
    static var goldenMFCC: MFCCConfig { MFCCConfig() }

    /// The LogMelConfig of the goldens: n_fft 1024, hop 160, n_mels 40, fmin 0, fmax sr/2, top_db 80.
    static var goldenLogMel: LogMelConfig { LogMelConfig() }

    func testManifestCoversAllCases() throws {
        let m = try DSPManifest.load()
        XCTAssertEqual(Set(m.cases.keys), Set(Self.caseNames))
        XCTAssertEqual(m.filterbanks.count, 2)
    }

    /// computeFull equals `librosa.feature.mfcc(...)` within 1e-3 absolute, for every case.
    func testMFCCMatchesLibrosa() throws {
        let tolerance: Float = 1e-3
        let m = try DSPManifest.load()
        let mfcc = try MFCC(Self.goldenMFCC)
        for name in Self.caseNames {
            let c = try XCTUnwrap(m.cases[name])
            let expected = try DSPManifest.floats(c.mfcc.file)
            let (values, frames) = mfcc.computeFull(try m.input(name))
            XCTAssertEqual([13, frames], c.mfcc.shape, name)
            XCTAssertEqual(values.count, expected.count, name)
            guard values.count == expected.count else { continue }
            assertGolden(values, expected, "MFCC golden \(name)", unit: "", tolerance: tolerance, message: "MFCC \(name)") {
                "coefficient \($0 / frames), frame \($0 % frames)"
            }
        }
    }

    /// compute() is computeFull padded with zero columns or truncated to `frames` (401), with realFrames and
    /// totalFrames, against the same librosa goldens (tolerance 1e-3 absolute on real frames, exact zeros after).
    func testMFCCPadTruncateAgainstLibrosa() throws {
        let tolerance: Float = 1e-3
        let m = try DSPManifest.load()
        let mfcc = try MFCC(Self.goldenMFCC)
        for name in Self.caseNames {
            let c = try XCTUnwrap(m.cases[name])
            let expected = try DSPManifest.floats(c.mfcc.file)
            let total = c.mfcc.shape[1]
            let r = mfcc.compute(try m.input(name))
            XCTAssertEqual(r.totalFrames, total, name)
            XCTAssertEqual(r.realFrames, min(total, 401), name)
            XCTAssertEqual(r.coefficients.count, 13 * 401, name)
            var err: Float = 0
            for k in 0..<13 {
                for t in 0..<401 {
                    let ours = r.coefficients[k * 401 + t]
                    if t < r.realFrames {
                        err = max(err, abs(ours - expected[k * total + t]))
                    } else {
                        XCTAssertEqual(ours, 0, "\(name): padding at coefficient \(k), frame \(t)")
                    }
                }
            }
            print("MFCC 13x401 golden \(name): total \(total) frames, real \(r.realFrames), max abs error \(err); "
                  + "tolerance \(tolerance)")
            XCTAssertLessThanOrEqual(err, tolerance, name)
        }
    }

    /// LogMel equals librosa's `power_to_db(melspectrogram(...), top_db=80).T` within 1e-3 dB, for every case.
    func testLogMelMatchesLibrosa() throws {
        let tolerance: Float = 1e-3
        let m = try DSPManifest.load()
        let logmel = try LogMel(Self.goldenLogMel)
        for name in Self.caseNames {
            let c = try XCTUnwrap(m.cases[name])
            let expected = try DSPManifest.floats(c.logmel.file)
            let r = logmel.compute(try m.input(name))
            XCTAssertEqual([r.frames, 40], c.logmel.shape, name)
            XCTAssertEqual(r.frameTimes.count, r.frames, name)
            XCTAssertEqual(r.values.count, expected.count, name)
            guard r.values.count == expected.count else { continue }
            assertGolden(r.values, expected, "log-mel golden \(name)", unit: " dB", tolerance: tolerance, message: "log-mel \(name)") {
                "frame \($0 / 40), band \($0 % 40)"
            }
        }
    }

    /// MelFilterbank.slaney equals `librosa.filters.mel(...)` within 1e-7 absolute.
    func testFilterbankMatchesLibrosa() throws {
        let tolerance: Float = 1e-7
        let m = try DSPManifest.load()
        for (key, bank) in m.filterbanks.sorted(by: { $0.key < $1.key }) {
            let p = bank.params
            let expected = try DSPManifest.floats(bank.file)
            let ours = MelFilterbank.slaney(sampleRate: p.sr, nFFT: p.n_fft, nMels: p.n_mels, fmin: p.fmin, fmax: p.fmax)
            XCTAssertEqual([p.n_mels, 1 + p.n_fft / 2], bank.shape, key)
            let (err, at) = Golden.maxAbsDiff(ours, expected)
            let exact = zip(ours, expected).filter { $0.0 == $0.1 }.count
            print("filterbank golden \(key): max abs error \(err) at \(at); \(exact)/\(ours.count) bit-identical; "
                  + "tolerance \(tolerance)")
            XCTAssertLessThanOrEqual(err, tolerance, key)
        }
    }
}

/// Prints the largest difference from a librosa golden (where it is, both values, how many values are
/// bit-identical) and asserts it is within `tolerance`.
private func assertGolden(_ ours: [Float], _ expected: [Float], _ label: String, unit: String, tolerance: Float,
                          message: String, file: StaticString = #filePath, line: UInt = #line,
                          where describe: (Int) -> String) {
    let (err, at) = Golden.maxAbsDiff(ours, expected)
    let same = zip(ours, expected).filter { $0.0 == $0.1 }.count
    print("\(label): max abs error \(err)\(unit) at \(describe(at)) (ours \(ours[at]), librosa \(expected[at])); "
          + "\(same)/\(ours.count) bit-identical; tolerance \(tolerance)\(unit)")
    XCTAssertLessThanOrEqual(err, tolerance, message, file: file, line: line)
}
