import Foundation
@testable import Models
import Tensor
import TestSupport
import XCTest

/// CLIP's raw-pointer kernels where they have two paths.
final class CLIPKernelTests: XCTestCase {
    /// Bias plus quick GELU in the AVX-512 loop of `CVectorKernels` gives the Swift loop's results bit for bit,
    /// across the exponential's clamps (|1.702·v| beyond 87 and 88), ±0, ±infinity, NaN, subnormals and random bit
    /// patterns, on rows that end in a partial vector.
    func testAVX512QuickGELUIsBitIdenticalToSwift() {
        guard VectorKernels.avx512 else {
            print("AVX-512 quick GELU not testable here: the CPU has no AVX-512F (or MELD_NO_AVX512 is set)")
            return
        }
        let values = FloatSweep.values(including: [51.1, -51.1, 51.7, -51.7, 60, -60], grid: (-70, 0.001_2, 120_001),
                                       randomBitPatterns: 20_000, seed: 0x2545_F491_4F6C_DD1D)
        for dim in [37, 768, 3072] {
            let rows = values.count / dim
            let input = Array(values.prefix(rows * dim))
            let bias = (0..<dim).map { Float($0 % 13) * 0.25 - 1.5 }
            var swift = input, simd = input
            bias.withUnsafeBufferPointer { b in
                swift.withUnsafeMutableBufferPointer {
                    CLIPKernels.biasActivation($0.baseAddress!, rows: rows, dim: dim, bias: b.baseAddress!, .quickGELU,
                                               workers: 2, avx512: false)
                }
                simd.withUnsafeMutableBufferPointer {
                    CLIPKernels.biasActivation($0.baseAddress!, rows: rows, dim: dim, bias: b.baseAddress!, .quickGELU,
                                               workers: 2, avx512: true)
                }
            }
            XCTAssertEqual(FloatSweep.bits(simd), FloatSweep.bits(swift), "rows of \(dim)")
        }
    }
}
