@testable import DSP
import XCTest

/// The AVX2 kernels (`CDSPKernels`) and the portable Swift loops perform the same operations in the same order,
/// so MFCC and log-mel results are bit-identical whichever path a CPU takes.
final class KernelPathTests: XCTestCase {
    func testAVX2KernelsMatchSwiftLoops() throws {
        try XCTSkipUnless(LogMelEngine.cpuHasAVX2, "this CPU has no AVX2: only the Swift loops run")
        let noise = DSPUnitTests.noise(count: 30_000, seed: 21)
        var gaps = noise                                           // digital silence at both ends and inside
        for i in 0..<2_000 { gaps[i] = 0 }
        for i in 12_000..<15_000 { gaps[i] = 0 }
        for i in 27_000..<30_000 { gaps[i] = 0 }
        var quiet = noise                                          // tiny values: the denormal flush
        for i in quiet.indices { quiet[i] *= 1e-18 }
        let inputs: [[Float]] = [noise, gaps, quiet, [], [0.25], Array(noise[0..<399]), Array(gaps[0..<5_001]),
                                 [Float](repeating: 0, count: 3_000)]

        /// nil when both arrays are bit-identical, else where they first differ.
        func difference(_ a: [Float], _ b: [Float]) -> String? {
            guard a.count == b.count else { return "\(a.count) vs \(b.count) values" }
            guard let i = a.indices.first(where: { a[$0].bitPattern != b[$0].bitPattern }) else { return nil }
            return "index \(i): AVX2 \(a[i]), Swift \(b[i])"
        }
        var mfccConfigs = [MFCCConfig()]
        var c = MFCCConfig(); c.nFFT = 401; c.nMels = 13; c.nMFCC = 13; c.fmax = nil; c.topDB = nil
        mfccConfigs.append(c)
        c = MFCCConfig(); c.nFFT = 512; c.nMels = 40; c.nMFCC = 40; c.frames = 100
        mfccConfigs.append(c)
        c = MFCCConfig(); c.nFFT = 16; c.hop = 4; c.nMels = 7; c.nMFCC = 4
        mfccConfigs.append(c)
        for config in mfccConfigs {
            let fast = try MFCC(config, avx2: true), portable = try MFCC(config, avx2: false)
            for (i, x) in inputs.enumerated() {
                XCTAssertNil(difference(fast.compute(x).coefficients, portable.compute(x).coefficients),
                             "MFCC nFFT \(config.nFFT), nMels \(config.nMels), input \(i)")
                XCTAssertNil(difference(fast.computeFull(x).values, portable.computeFull(x).values),
                             "MFCC full nFFT \(config.nFFT), nMels \(config.nMels), input \(i)")
            }
        }
        var l = LogMelConfig()
        var logMelConfigs = [l]
        l.nFFT = 63; l.hop = 100; l.nMels = 8; l.fmax = 8000
        logMelConfigs.append(l)
        for config in logMelConfigs {
            let fast = try LogMel(config, avx2: true), portable = try LogMel(config, avx2: false)
            for (i, x) in inputs.enumerated() {
                XCTAssertNil(difference(fast.compute(x).values, portable.compute(x).values),
                             "log-mel nFFT \(config.nFFT), input \(i)")
            }
        }
    }
}
