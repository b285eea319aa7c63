import Foundation

/// Timing hooks for the CLI's `bench` command.
public enum DSPBenchmark {
    /// Seconds per `MFCC.compute` call with the default `MFCCConfig` (13 x 401, 16 kHz), best of `repeats`
    /// after one untimed warm-up call. Building the `MFCC` (planning, filterbank) is not timed.
    public static func timeMFCC(samples: [Float], repeats: Int) -> Double {
        guard let mfcc = try? MFCC(MFCCConfig()) else { return .nan }
        _ = mfcc.compute(samples)
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            let r = mfcc.compute(samples)
            let end = DispatchTime.now().uptimeNanoseconds
            precondition(r.coefficients.count == 13 * 401)
            best = min(best, Double(end - start) / 1e9)
        }
        return best
    }
}
