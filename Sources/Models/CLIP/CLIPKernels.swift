import CVectorKernels
import Foundation
import Tensor

// Raw-pointer kernels for the CLIP vision forward pass, which runs on one preallocated workspace (see
// `CLIPVisionState`) instead of allocating a tensor per op. Everything heavy is a GEMM (`BLAS.sgemm`); these are
// the row-wise passes between the GEMMs, written so that LLVM vectorises their inner loops.

enum CLIPKernels {
    /// Runs `body` over `0..<count` split into at most `workers` contiguous chunks (of at least `minChunk` items),
    /// in parallel when there is more than one chunk.
    @inline(__always)
    static func parallelFor(_ count: Int, workers: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelChunks(count, width: workers, grain: minChunk, body)
    }

    /// e^x in branch-free float arithmetic that LLVM vectorises inside plain loops (libm's `expf` is a call per
    /// element): x = n·ln2 + r with n = x·log2 e rounded to nearest, ln2 split in two parts so n·ln2 is exact, e^r
    /// by its degree-7 Taylor polynomial on |r| ≤ ln2/2 (truncation error below 3e-9 relative), times 2^n built in
    /// the exponent bits. Within 1.2 ulp of the exact e^x on [−87, 88] (checked on a 2M-point grid); the input is
    /// clamped to that range, so nothing over- or underflows (e^−87 ≈ 1.6e−38 stands in for smaller values,
    /// harmless in softmax and quick GELU).
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let xc = Swift.min(Swift.max(x, -87), 88)
        // Adding 1.5·2^23 rounds x·log2 e to the nearest integer, which lands in the low mantissa bits.
        let magic: Float = 12_582_912
        let t = xc * 1.442_695_040_888_963_4 + magic
        let nBits = Int32(bitPattern: t.bitPattern &- magic.bitPattern)
        let n = t - magic
        let r = (xc - n * 0.693_145_751_953_125) - n * 1.428_606_765_330_187_045e-6
        var p: Float = 1.0 / 5040
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        return p * Float(bitPattern: UInt32(bitPattern: (nBits &+ 127) &<< 23))
    }

    /// LayerNorm of `rows` rows of `dim` floats (row strides `srcStride`, `dstStride`; `dst` may equal `src`):
    /// `(x − μ) / √(σ² + eps) · γ + β`, biased variance, as `nn.LayerNorm`. Two passes (mean, then centred
    /// squares), each summed in 8 float lanes: for rows of hundreds of values the rounding error is ~1e−7 relative,
    /// like PyTorch's own float kernel.
    static func layerNorm(_ src: UnsafePointer<Float>, srcStride: Int, _ dst: UnsafeMutablePointer<Float>, dstStride: Int,
                          rows: Int, dim: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                          workers: Int) {
        parallelFor(rows, workers: workers, minChunk: 16) { range in
            for r in range {
                let x = src + r * srcStride, y = dst + r * dstStride
                let raw = UnsafeRawPointer(x)
                var sum = SIMD8<Float>()
                var i = 0
                while i + 8 <= dim {
                    sum += raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                    i += 8
                }
                var s = sum.sum()
                while i < dim { s += x[i]; i += 1 }
                let mean = s / Float(dim)
                var squares = SIMD8<Float>()
                i = 0
                while i + 8 <= dim {
                    let d = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) - mean
                    squares += d * d
                    i += 8
                }
                var q = squares.sum()
                while i < dim { let d = x[i] - mean; q += d * d; i += 1 }
                let invStd = 1 / (q / Float(dim) + eps).squareRoot()
                for j in 0..<dim { y[j] = (x[j] - mean) * invStd * gamma[j] + beta[j] }
            }
        }
    }

    /// Copies `v` into each of `rows` rows of `dim` floats (a bias before a GEMM with beta = 1).
    static func fillRows(_ x: UnsafeMutablePointer<Float>, rows: Int, dim: Int, _ v: UnsafePointer<Float>, workers: Int) {
        parallelFor(rows, workers: workers, minChunk: 32) { range in
            for r in range { (x + r * dim).update(from: v, count: dim) }
        }
    }

    /// Softmax of each row of a contiguous `[rows, n]` block in place: `exp(x − max) / Σ exp(x − max)`. The
    /// exponentials run as one loop over the whole block (rows of 50 would leave the vector loop mostly tail), and
    /// the max and the sum are reduced in several lanes (a plain float reduction stays one serial chain: the
    /// compiler may not reorder it).
    static func softmaxRows(_ block: UnsafeMutablePointer<Float>, rows: Int, _ n: Int) {
        for r in 0..<rows {
            let row = block + r * n
            var (m0, m1, m2, m3) = (-Float.infinity, -Float.infinity, -Float.infinity, -Float.infinity)
            var i = 0
            while i + 4 <= n {   // four independent chains (Swift's generic SIMD max is not inlined)
                m0 = Swift.max(m0, row[i])
                m1 = Swift.max(m1, row[i + 1])
                m2 = Swift.max(m2, row[i + 2])
                m3 = Swift.max(m3, row[i + 3])
                i += 4
            }
            while i < n { m0 = Swift.max(m0, row[i]); i += 1 }
            let m = Swift.max(Swift.max(m0, m1), Swift.max(m2, m3))
            for j in 0..<n { row[j] -= m }
        }
        for j in 0..<(rows * n) { block[j] = exp(block[j]) }
        for r in 0..<rows {
            let row = block + r * n, raw = UnsafeRawPointer(row)
            var i = 0
            var s8 = SIMD8<Float>()
            while i + 8 <= n {
                s8 += raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
                i += 8
            }
            var sum = s8.sum()
            while i < n { sum += row[i]; i += 1 }
            let inv = 1 / sum
            for j in 0..<n { row[j] *= inv }
        }
    }

    /// The activations `CLIPMLP` may use (`ACT2FN[hidden_act]`).
    enum Activation {
        /// `x · sigmoid(1.702 x)`.
        case quickGELU
        /// `x · ½(1 + erf(x/√2))` (PyTorch's exact GELU), with libm's `erff`.
        case gelu

        init?(_ name: String) {
            switch name {
            case "quick_gelu": self = .quickGELU
            case "gelu": self = .gelu
            default: return nil
            }
        }
    }

    /// `x[r, j] = act(x[r, j] + bias[j])` in place over `rows` rows of `dim`.
    /// Quick GELU runs in the AVX-512 loop of `CVectorKernels` where `avx512` (bit-identical).
    static func biasActivation(_ x: UnsafeMutablePointer<Float>, rows: Int, dim: Int, bias: UnsafePointer<Float>,
                               _ activation: Activation, workers: Int, avx512: Bool = VectorKernels.avx512) {
        parallelFor(rows, workers: workers, minChunk: 8) { range in
            for r in range {
                let row = x + r * dim
                switch activation {
                case .quickGELU where avx512:
                    vec_clip_bias_quick_gelu_avx512(row, bias, dim)
                case .quickGELU:
                    for j in 0..<dim {
                        let v = row[j] + bias[j]
                        row[j] = v / (1 + exp(-1.702 * v))
                    }
                case .gelu:
                    for j in 0..<dim {
                        let v = row[j] + bias[j]
                        row[j] = v * 0.5 * (1 + erff(v * 0.707_106_781_186_547_524_4))
                    }
                }
            }
        }
    }

    /// `x[r, j] += v[j]` over `rows` rows of `dim` (a bias or an embedding broadcast over rows).
    @inline(__always)
    static func addRow(_ x: UnsafeMutablePointer<Float>, rows: Int, dim: Int, _ v: UnsafePointer<Float>) {
        for r in 0..<rows {
            let row = x + r * dim
            for j in 0..<dim { row[j] += v[j] }
        }
    }
}
