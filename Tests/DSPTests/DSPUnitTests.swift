import DSP
import Dispatch
import TestSupport
import XCTest

final class DSPUnitTests: XCTestCase {
    /// Centred framing at 16 kHz, hop 160: 1 + n / 160 frames.
    func testFrameCounts() throws {
        let mfcc = try MFCC(MFCCConfig())
        for (n, frames) in [(64000, 401), (64159, 401), (64160, 402), (159, 1), (160, 2), (100, 1), (0, 1)] {
            XCTAssertEqual(Framing.centredFrameCount(samples: n, nFFT: 400, hop: 160), frames, "\(n) samples")
            let full = mfcc.computeFull([Float](repeating: 0.01, count: n))
            XCTAssertEqual(full.frames, frames, "\(n) samples")
            XCTAssertEqual(full.values.count, 13 * frames, "\(n) samples")
            let r = mfcc.compute([Float](repeating: 0.01, count: n))
            XCTAssertEqual(r.totalFrames, frames, "\(n) samples")
            XCTAssertEqual(r.realFrames, min(frames, 401), "\(n) samples")
        }
        // Odd nFFT: 1 + (n - 1) // hop with floor division, so an empty signal has no frame.
        XCTAssertEqual(Framing.centredFrameCount(samples: 0, nFFT: 401, hop: 160), 0)
        XCTAssertEqual(Framing.centredFrameCount(samples: 1, nFFT: 401, hop: 160), 1)
        XCTAssertEqual(Framing.centredFrameCount(samples: 161, nFFT: 401, hop: 160), 2)
        XCTAssertEqual(Framing.centredFrameCount(samples: 160, nFFT: 401, hop: 160), 1)
    }

    /// compute() keeps the first `frames` columns of computeFull and zero-fills the rest, per coefficient row.
    func testPadAndTruncate() throws {
        var config = MFCCConfig()
        config.frames = 50
        let mfcc = try MFCC(config)
        let noise = Self.noise(count: 100 * 160 + 37, seed: 7)          // 101 frames
        let full = mfcc.computeFull(noise)
        XCTAssertEqual(full.frames, 101)
        let truncated = mfcc.compute(noise)
        XCTAssertEqual(truncated.realFrames, 50)
        XCTAssertEqual(truncated.totalFrames, 101)
        for k in 0..<13 {
            XCTAssertEqual(Array(truncated.coefficients[(k * 50)..<(k * 50 + 50)]),
                           Array(full.values[(k * 101)..<(k * 101 + 50)]), "row \(k)")
        }

        config.frames = 150
        let padded = try MFCC(config).compute(noise)
        XCTAssertEqual(padded.realFrames, 101)
        XCTAssertEqual(padded.totalFrames, 101)
        XCTAssertEqual(padded.coefficients.count, 13 * 150)
        for k in 0..<13 {
            XCTAssertEqual(Array(padded.coefficients[(k * 150)..<(k * 150 + 101)]),
                           Array(full.values[(k * 101)..<(k * 101 + 101)]), "row \(k)")
            XCTAssertTrue(padded.coefficients[(k * 150 + 101)..<(k * 150 + 150)].allSatisfy { $0 == 0 }, "row \(k)")
        }
    }

    /// The top_db clamp uses the whole clip's maximum, also for the frames that truncation drops: a loud tail
    /// after frame 401 changes the kept frames.
    func testTopDBUsesWholeClipBeforeTruncation() throws {
        let mfcc = try MFCC(MFCCConfig())
        var quiet = [Float](repeating: 0, count: 80000)
        for i in 0..<64000 { quiet[i] = 1e-3 * sin(Float(i) * 0.1) }
        var loudTail = quiet
        for i in 70000..<80000 { loudTail[i] = sin(Float(i) * 0.3) }
        let a = mfcc.compute(quiet), b = mfcc.compute(loudTail)
        XCTAssertEqual(a.totalFrames, 501)
        XCTAssertNotEqual(a.coefficients, b.coefficients)
    }

    /// Empty input follows the frame formula: one frame of silence (-100 dB in every band).
    func testEmptyInput() throws {
        let full = try MFCC(MFCCConfig()).computeFull([])
        XCTAssertEqual(full.frames, 1)
        XCTAssertEqual(full.values[0], -100 * Float(40).squareRoot(), accuracy: 1e-3)   // DCT-II ortho of a constant
        let r = try MFCC(MFCCConfig()).compute([])
        XCTAssertEqual(r.realFrames, 1)
        XCTAssertEqual(r.totalFrames, 1)
        let mel = try LogMel(LogMelConfig()).compute([])
        XCTAssertEqual(mel.frames, 1)
        XCTAssertEqual(mel.values, [Float](repeating: -100, count: 40))
        XCTAssertEqual(mel.frameTimes, [0])
    }

    func testFrameTimesAndTopDBNil() throws {
        var config = LogMelConfig()
        config.topDB = nil
        let r = try LogMel(config).compute(Self.noise(count: 16000, seed: 3))
        XCTAssertEqual(r.frames, 101)
        XCTAssertEqual(r.frameTimes[100], 1.0)
        XCTAssertEqual(r.frameTimes[1], 0.01, accuracy: 1e-7)
        var silent = [Float](repeating: 0, count: 16000)
        silent[8000] = 1
        let unclamped = try LogMel(config).compute(silent)
        XCTAssertEqual(unclamped.values.min(), -100)                    // amin floor only
        let clamped = try LogMel(LogMelConfig()).compute(silent)
        XCTAssertEqual(clamped.values.min()!, clamped.values.max()! - 80, accuracy: 1e-4)
    }

    func testInvalidConfigsThrow() {
        func mfcc(_ edit: (inout MFCCConfig) -> Void) -> MFCCConfig { var c = MFCCConfig(); edit(&c); return c }
        let bad: [(String, MFCCConfig)] = [
            ("nFFT 1", mfcc { $0.nFFT = 1 }), ("hop 0", mfcc { $0.hop = 0 }), ("nMels 0", mfcc { $0.nMels = 0 }),
            ("nMFCC > nMels", mfcc { $0.nMFCC = 41 }), ("nMFCC 0", mfcc { $0.nMFCC = 0 }),
            ("fmax > sr/2", mfcc { $0.fmax = 8001 }), ("fmin < 0", mfcc { $0.fmin = -1 }),
            ("fmin >= fmax", mfcc { $0.fmin = 8000 }), ("sampleRate 0", mfcc { $0.sampleRate = 0 }),
            ("frames 0", mfcc { $0.frames = 0 }), ("topDB < 0", mfcc { $0.topDB = -1 }),
            ("fmax NaN", mfcc { $0.fmax = .nan }),
        ]
        for (label, config) in bad {
            XCTAssertThrowsError(try MFCC(config), label) { error in
                guard case DSPError.invalidConfig(let message) = error else { return XCTFail("\(label): \(error)") }
                XCTAssertFalse(message.isEmpty, label)
                XCTAssertTrue("\(error)".hasPrefix("invalid DSP configuration"), label)
            }
        }
        var logmel = LogMelConfig()
        logmel.fmax = 9000
        XCTAssertThrowsError(try LogMel(logmel))
        logmel = LogMelConfig()
        logmel.hop = 0
        XCTAssertThrowsError(try LogMel(logmel))
        XCTAssertNoThrow(try MFCC(mfcc { $0.fmax = nil; $0.topDB = nil; $0.nFFT = 401 }))
    }

    /// Many threads on one instance give bit-identical results to a serial run; instances are also created and
    /// destroyed concurrently (FFTW planning under FFTWPlanner's lock).
    func testConcurrentComputeIsDeterministic() throws {
        let mfcc = try MFCC(MFCCConfig())
        let logmel = try LogMel(LogMelConfig())
        let inputs = (0..<8).map { Self.noise(count: 16000 * (1 + $0 % 3) + $0 * 17, seed: UInt64($0 + 1)) }
        let serialMFCC = inputs.map { mfcc.compute($0).coefficients }
        let serialMel = inputs.map { logmel.compute($0).values }
        let lock = NSLock()
        var mismatches = [String]()
        DispatchQueue.concurrentPerform(iterations: 32) { i in
            let j = i % inputs.count
            let a = mfcc.compute(inputs[j]).coefficients
            let b = logmel.compute(inputs[j]).values
            var c = MFCCConfig()
            c.nFFT = 256 + 2 * i
            let own = try? MFCC(c)                                         // concurrent planning
            let ok = own?.compute(inputs[j]).totalFrames == 1 + inputs[j].count / 160
            lock.lock()
            if a != serialMFCC[j] { mismatches.append("mfcc \(i)") }
            if b != serialMel[j] { mismatches.append("logmel \(i)") }
            if !ok { mismatches.append("own instance \(i)") }
            lock.unlock()
        }
        XCTAssertEqual(mismatches, [])
    }

    /// MFCC = DCT-II (ortho) of the log-mel with the same settings, for even and odd nMels (the DCT folds the
    /// symmetric halves) and nMFCC up to nMels; the reference DCT is the textbook double sum. Tolerance 1e-4.
    func testMFCCIsOrthoDCTOfLogMel() throws {
        let tolerance: Float = 1e-4
        var worst: Float = 0
        let x = Self.noise(count: 9000, seed: 5)
        for (nMels, nMFCC) in [(40, 13), (13, 13), (1, 1), (2, 2), (7, 4), (40, 40)] {
            var m = MFCCConfig()
            m.nMels = nMels; m.nMFCC = nMFCC; m.nFFT = 512
            var l = LogMelConfig()
            l.nMels = nMels; l.nFFT = 512; l.fmax = 8000
            let (coefficients, frames) = try MFCC(m).computeFull(x)
            let mel = try LogMel(l).compute(x)
            XCTAssertEqual(frames, mel.frames)
            for t in 0..<frames {
                for k in 0..<nMFCC {
                    var sum = 0.0
                    for i in 0..<nMels {
                        sum += Double(mel.values[t * nMels + i]) * cos(Double.pi * Double(k * (2 * i + 1)) / Double(2 * nMels))
                    }
                    let expected = Float(sum * ((k == 0 ? 1.0 : 2.0) / Double(nMels)).squareRoot())
                    worst = max(worst, abs(coefficients[k * frames + t] - expected))
                }
            }
        }
        print("MFCC vs textbook DCT of log-mel: max abs error \(worst); tolerance \(tolerance)")
        XCTAssertLessThanOrEqual(worst, tolerance)
    }

    /// LogMel against a direct O(N^2) double-precision DFT written from the librosa conventions (periodic Hann,
    /// centred zero padding, complex64 bins, float32 |X|^2, float32 mel sums, float32 dB, clip-wide top_db), for
    /// even and odd nFFT, hops shorter and longer than the window, and signals shorter than one frame: this
    /// checks the two-frames-per-complex-FFT packing and the edge frames. Tolerance 1e-3 dB.
    func testMatchesDirectDFTReference() throws {
        let tolerance: Float = 1e-3
        var worst: Float = 0
        for (nFFT, hop, nMels) in [(400, 160, 40), (401, 160, 40), (64, 20, 8), (63, 100, 8), (16, 4, 3)] {
            for count in [0, 1, 37, 1000, 1003, 2001] {
                let x = Self.noise(count: count, seed: UInt64(nFFT * 10_000 + count))
                var config = LogMelConfig()
                config.nFFT = nFFT; config.hop = hop; config.nMels = nMels
                let ours = try LogMel(config).compute(x)
                let reference = Self.referenceLogMel(x, nFFT: nFFT, hop: hop, nMels: nMels, topDB: 80)
                let label = "nFFT \(nFFT), hop \(hop), \(count) samples"
                XCTAssertEqual(ours.frames, reference.count / nMels, label)
                guard ours.values.count == reference.count else { continue }
                if reference.isEmpty { continue }
                let err = Golden.maxAbsDiff(ours.values, reference).value
                worst = max(worst, err)
                XCTAssertLessThanOrEqual(err, tolerance, label)
            }
        }
        print("log-mel vs direct DFT reference: max abs error \(worst) dB; tolerance \(tolerance) dB")
    }

    /// Frames that read only zeros skip the FFT (decoded clips end in digital silence): against the direct DFT
    /// with zero runs at the start, inside and at the end, and a frame pair that straddles each run's edge.
    func testSilentFramesMatchDirectDFTReference() throws {
        var x = Self.noise(count: 12_000, seed: 17)
        for i in 0..<1_000 { x[i] = 0 }
        for i in 5_000..<6_500 { x[i] = 0 }
        for i in 9_100..<12_000 { x[i] = 0 }
        var config = LogMelConfig()
        config.nFFT = 400
        let ours = try LogMel(config).compute(x)
        let reference = Self.referenceLogMel(x, nFFT: 400, hop: 160, nMels: 40, topDB: 80)
        XCTAssertEqual(ours.values.count, reference.count)
        let err = Golden.maxAbsDiff(ours.values, reference).value
        print("log-mel with silent frames vs direct DFT reference: max abs error \(err) dB; tolerance 0.001 dB")
        XCTAssertLessThanOrEqual(err, 1e-3)
        XCTAssertEqual(ours.values.suffix(40 * 10), [Float](repeating: ours.values.max()! - 80, count: 400))
    }

    /// Time-major log-mel by the book, in the simplest loops (see testMatchesDirectDFTReference).
    static func referenceLogMel(_ x: [Float], nFFT: Int, hop: Int, nMels: Int, topDB: Float) -> [Float] {
        let frames = Framing.centredFrameCount(samples: x.count, nFFT: nFFT, hop: hop)
        let bins = nFFT / 2 + 1, pad = nFFT / 2
        let window = (0..<nFFT).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(nFFT)) }
        let cosTable = (0..<nFFT).map { cos(2 * Double.pi * Double($0) / Double(nFFT)) }
        let sinTable = (0..<nFFT).map { sin(2 * Double.pi * Double($0) / Double(nFFT)) }
        let fb = MelFilterbank.slaney(sampleRate: 16000, nFFT: nFFT, nMels: nMels, fmin: 0, fmax: 8000)
        var out = [Float]()
        for t in 0..<frames {
            var frame = [Double](repeating: 0, count: nFFT)
            for i in 0..<nFFT {
                let j = t * hop + i - pad
                if j >= 0 && j < x.count { frame[i] = window[i] * Double(x[j]) }
            }
            var power = [Float](repeating: 0, count: bins)
            for k in 0..<bins {
                var re = 0.0, im = 0.0
                for i in 0..<nFFT {
                    re += frame[i] * cosTable[(k * i) % nFFT]
                    im -= frame[i] * sinTable[(k * i) % nFFT]
                }
                let magnitude = Float((Double(Float(re)) * Double(Float(re)) + Double(Float(im)) * Double(Float(im))).squareRoot())
                power[k] = magnitude * magnitude
            }
            for m in 0..<nMels {
                var acc: Float = 0
                for k in 0..<bins { acc += fb[m * bins + k] * power[k] }
                out.append(Float(10 * log10(Double(max(1e-10, acc)))))
            }
        }
        guard let peak = out.max() else { return out }
        return out.map { max($0, peak - topDB) }
    }

    /// Prints the time per 4 s clip (run with `swift test -c release` for meaningful numbers).
    func testBenchmarkHook() {
        let clip = Self.noise(count: 64000, seed: 11)
        let seconds = DSPBenchmark.timeMFCC(samples: clip, repeats: 5)
        print(String(format: "MFCC 13x401 of a 4 s clip: %.3f ms per call (best of 5)", seconds * 1000))
        XCTAssertTrue(seconds > 0 && seconds.isFinite)
    }

    /// Deterministic uniform noise in [-0.5, 0.5) (SplitMix64).
    static func noise(count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(z >> 40) / Float(1 << 24) - 0.5
        }
    }
}

final class DecibelTests: XCTestCase {
    /// Decibels.powerToDB (vectorised float32 log) against double-precision log10 rounded to float32, over
    /// 2^20 log-spaced powers in [1e-12, 1e8] plus exact powers of ten. Tolerance: 1e-6 dB absolute, and at most
    /// 2 ulps wherever |dB| >= 1 (below that, ulps are under 1.2e-7 dB).
    func testDecibelAccuracy() {
        var power = (0..<(1 << 20)).map { i in Float(pow(10, -12 + 20 * Double(i) / Double(1 << 20))) }
        power += (-10...8).map { Float(pow(10, Double($0))) }
        let ours = Decibels.powerToDB(power, topDB: nil)
        var maxAbs: Float = 0, maxUlps = 0, maxUlpsAboveOne = 0, exact = 0
        for (p, v) in zip(power, ours) {
            let reference = Float(10 * log10(Double(max(1e-10 as Float, p))))
            let ulps = abs(Int(v.bitPattern) - Int(reference.bitPattern))
            maxUlps = max(maxUlps, ulps)
            if abs(reference) >= 1 { maxUlpsAboveOne = max(maxUlpsAboveOne, ulps) }
            maxAbs = max(maxAbs, abs(v - reference))
            if ulps == 0 { exact += 1 }
        }
        print("decibels: max abs error \(maxAbs) dB, max \(maxUlps) ulp (\(maxUlpsAboveOne) where |dB| >= 1), "
              + "\(exact)/\(power.count) exact; tolerance 1e-6 dB, 2 ulps where |dB| >= 1")
        XCTAssertLessThan(maxAbs, 1e-6)
        XCTAssertLessThanOrEqual(maxUlpsAboveOne, 2)
        XCTAssertEqual(Decibels.powerToDB([0, 1e-10, 1, 10, 100], topDB: nil), [-100, -100, 0, 10, 20])
        XCTAssertEqual(Decibels.powerToDB([1e-20, 1, 1e3], topDB: 20), [10, 10, 30])
    }
}
