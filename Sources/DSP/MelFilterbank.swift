import Foundation

/// Mel filterbanks with librosa's conventions (`librosa.filters.mel`, librosa 0.11.0).
///
/// ```swift
/// let fb = MelFilterbank.slaney(sampleRate: 16000, nFFT: 400, nMels: 40, fmin: 0, fmax: 8000)
/// // fb[m * 201 + k] is the weight of FFT bin k in mel band m
/// ```
public enum MelFilterbank {
    /// The Slaney-scale, Slaney-normalised triangular filterbank, `librosa.filters.mel(sr=sampleRate,
    /// n_fft=nFFT, n_mels=nMels, fmin=fmin, fmax=fmax, htk=False, norm="slaney")`, bit-for-bit up to libm
    /// differences in `log`/`exp`.
    ///
    /// Everything is computed in double precision and rounded to Float32 exactly where librosa rounds:
    /// once after the triangle `max(0, min(lower, upper))` (it is stored into a float32 array), and again after
    /// multiplying that float32 weight by the double-precision Slaney norm `2 / (f[m+2] - f[m])`.
    /// Bands that no FFT bin falls into stay all-zero (librosa warns about them; it does not fail).
    ///
    /// - Parameters:
    ///   - sampleRate: sampling rate in Hz (> 0).
    ///   - nFFT: FFT size (>= 2); the filterbank covers bins `0...nFFT/2`.
    ///   - nMels: number of bands (>= 1).
    ///   - fmin: lowest band edge in Hz.
    ///   - fmax: highest band edge in Hz (pass `Double(sampleRate) / 2` for librosa's `fmax=None`).
    /// - Returns: `nMels x (1 + nFFT/2)` weights, row-major (band-major).
    public static func slaney(sampleRate: Int, nFFT: Int, nMels: Int, fmin: Double, fmax: Double) -> [Float] {
        precondition(sampleRate > 0 && nFFT >= 2 && nMels >= 1, "sampleRate > 0, nFFT >= 2 and nMels >= 1 are required")
        let bins = 1 + nFFT / 2
        // np.fft.rfftfreq(n_fft, d=1/sr): k * (1 / (n_fft * (1/sr)))
        let binWidth = 1.0 / (Double(nFFT) * (1.0 / Double(sampleRate)))
        let melF = melFrequencies(count: nMels + 2, fmin: fmin, fmax: fmax)
        var weights = [Float](repeating: 0, count: nMels * bins)
        for m in 0..<nMels {
            let lowerDiff = melF[m + 1] - melF[m], upperDiff = melF[m + 2] - melF[m + 1]
            let enorm = 2.0 / (melF[m + 2] - melF[m])
            for k in 0..<bins {
                let f = Double(k) * binWidth
                let lower = -(melF[m] - f) / lowerDiff
                let upper = (melF[m + 2] - f) / upperDiff
                let triangle = Float(max(0, min(lower, upper)))          // rounding point 1
                weights[m * bins + k] = Float(Double(triangle) * enorm)  // rounding point 2
            }
        }
        return weights
    }

    // MARK: Slaney mel scale (librosa.hz_to_mel / mel_to_hz with htk=False)

    private static let fSp = 200.0 / 3
    private static let minLogHz = 1000.0
    private static let minLogMel = (minLogHz - 0.0) / fSp
    private static let logStep = log(6.4) / 27.0

    /// Hz to Slaney mel: linear below 1 kHz, logarithmic above.
    static func hzToMel(_ hz: Double) -> Double {
        hz >= minLogHz ? minLogMel + log(hz / minLogHz) / logStep : (hz - 0.0) / fSp
    }

    /// Slaney mel to Hz, the inverse of `hzToMel`.
    static func melToHz(_ mel: Double) -> Double {
        mel >= minLogMel ? minLogHz * exp(logStep * (mel - minLogMel)) : 0.0 + fSp * mel
    }

    /// `librosa.mel_frequencies(count, fmin, fmax, htk=False)`: `count` points evenly spaced in mel
    /// (np.linspace: `start + i * step`, the last point exactly the stop value), mapped back to Hz.
    static func melFrequencies(count: Int, fmin: Double, fmax: Double) -> [Double] {
        let lo = hzToMel(fmin), hi = hzToMel(fmax)
        guard count > 1 else { return count == 1 ? [melToHz(lo)] : [] }
        let step = (hi - lo) / Double(count - 1)
        return (0..<count).map { i in melToHz(i == count - 1 ? hi : Double(i) * step + lo) }
    }
}

/// A mel filterbank stored sparsely: each band keeps only its run of non-zero bins (a triangle touches a few
/// consecutive bins), so applying it costs about two multiply-adds per FFT bin instead of `nMels` of them.
struct SparseFilterbank: Sendable {
    let nMels: Int
    let bins: Int
    /// First bin of band m's run.
    let start: [Int]
    /// Band m's weights are `weights[offset[m] ..< offset[m + 1]]`, for bins `start[m]...`.
    let offset: [Int]
    let weights: [Float]

    init(dense: [Float], nMels: Int, bins: Int) {
        precondition(dense.count == nMels * bins)
        self.nMels = nMels
        self.bins = bins
        var start = [Int](), offset = [0], weights = [Float]()
        for m in 0..<nMels {
            let row = dense[(m * bins)..<((m + 1) * bins)]
            if let first = row.firstIndex(where: { $0 != 0 }), let last = row.lastIndex(where: { $0 != 0 }) {
                start.append(first - m * bins)
                weights.append(contentsOf: dense[first...last])
            } else {
                start.append(0)
            }
            offset.append(weights.count)
        }
        self.start = start
        self.offset = offset
        self.weights = weights
    }
}
