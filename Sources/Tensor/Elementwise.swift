import Foundation

// Elementwise ops. Each has an in-place form (`x.applyGELU()`: no allocation when `x` is uniquely held) and a
// value-returning one (`gelu(x)`). Large tensors are split across cores.

extension Tensor {
    /// Applies `f` to every element in place, in parallel when large (for cheap, rarely used maps; the hot
    /// activations use `apply(_:cost:)`, which vectorises).
    @inline(__always)
    mutating func mapInPlace(cost: Int = 1, _ f: (Float) -> Float) {
        makeUnique()
        let p = mutableBase
        Parallel.forEachChunk(count, costPerItem: cost) { range in
            for i in range { p[i] = f(p[i]) }
        }
    }

    /// Applies a kernel type in place (specialised and vectorised per kernel).
    @inline(__always)
    mutating func apply<K: ElementwiseKernel>(_ kernel: K.Type, cost: Int) {
        makeUnique()
        applyKernel(kernel, mutableBase, count: count, cost: cost)
    }

    /// Exact GELU in place: `x · 0.5 · (1 + erf(x / √2))` (PyTorch `gelu`, approximate="none"; BERT and HuBERT).
    /// erf is evaluated branch-free and vectorised (Abramowitz & Stegun 7.1.26): within 3e-7 of the exact
    /// GELU relative to max(1, |x|), which is as close as PyTorch's own float32 kernel gets (≈1e-6 at |x| = 6).
    public mutating func applyGELU() {
        makeUnique()
        applyGELUKernel(mutableBase, count: count)
    }

    /// Quick GELU in place: `x · sigmoid(1.702 x)` (CLIP's `quick_gelu`).
    public mutating func applyQuickGELU() { apply(QuickGELUKernel.self, cost: 3) }

    /// tanh in place (BERT's pooler), with libm's `tanhf`.
    public mutating func applyTanh() { apply(TanhKernel.self, cost: 20) }

    /// Logistic sigmoid `1 / (1 + e^−x)` in place.
    public mutating func applySigmoid() { apply(SigmoidKernel.self, cost: 3) }

    /// ReLU in place.
    public mutating func applyReLU() { apply(ReLUKernel.self, cost: 1) }

    /// Multiplies every element by `factor` in place.
    public mutating func scale(by factor: Float) {
        makeUnique()
        let p = mutableBase
        Parallel.forEachChunk(count) { range in
            for i in range { p[i] *= factor }
        }
    }

    /// Per-channel PReLU in place, `x > 0 ? x : a_c·x` (PyTorch `prelu`): the channel axis is 1 (0 for a 1-D
    /// tensor); `weight` holds one slope per channel, or a single shared slope.
    public mutating func applyPReLU(weight: Tensor) {
        let channels = rank >= 2 ? shape[1] : (rank == 1 ? shape[0] : 1)
        precondition(weight.count == channels || weight.count == 1,
                     "PReLU weight has \(weight.count) slopes for \(channels) channels (shape \(shape))")
        makeUnique()
        let inner = rank >= 2 ? shape[2...].reduce(1, *) : 1
        let outer = count / Swift.max(1, channels * inner)
        let p = mutableBase
        weight.withUnsafeBufferPointer { a in
            Parallel.forEachChunk(outer * channels, costPerItem: inner) { range in
                for oc in range {
                    let slope = a.count == 1 ? a[0] : a[oc % channels]
                    let row = p + oc * inner
                    for i in 0..<inner { let x = row[i]; row[i] = x > 0 ? x : slope * x }
                }
            }
        }
    }

    /// Adds `other` in place. `other.shape` must equal `shape` or a suffix of it (broadcast over the leading axes),
    /// e.g. a bias `[D]` to `[N, D]`, or position embeddings `[L, D]` to `[B, L, D]`.
    public mutating func add(_ other: Tensor) {
        precondition(other.rank <= rank && Array(shape.suffix(other.rank)) == other.shape,
                     "cannot add shape \(other.shape) to \(shape)")
        combine(with: other) { $0 + $1 }
    }

    /// Multiplies by `other` elementwise in place (same broadcasting rule as `add`).
    public mutating func multiply(by other: Tensor) {
        precondition(other.rank <= rank && Array(shape.suffix(other.rank)) == other.shape,
                     "cannot multiply shape \(shape) by \(other.shape)")
        combine(with: other) { $0 * $1 }
    }

    /// `self[r, i] = op(self[r, i], other[i])` for every trailing block `r` shaped like `other` (the broadcasting
    /// rule of `add`; callers check the shapes). Inlined so that each caller's `op` compiles into its loop.
    @inline(__always)
    private mutating func combine(with other: Tensor, _ op: (Float, Float) -> Float) {
        makeUnique()
        let p = mutableBase, m = other.count
        guard m > 0 else { return }
        other.withUnsafeBufferPointer { q in
            let q = q.baseAddress!
            Parallel.forEachChunk(count / m, costPerItem: m) { range in
                for r in range {
                    let row = p + r * m
                    for i in 0..<m { row[i] = op(row[i], q[i]) }
                }
            }
        }
    }

    /// Elementwise sum; `rhs.shape` must equal `lhs.shape` or a suffix of it.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        var out = lhs
        out.add(rhs)
        return out
    }

    /// Elementwise product; `rhs.shape` must equal `lhs.shape` or a suffix of it.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor {
        var out = lhs
        out.multiply(by: rhs)
        return out
    }

    /// Every element times `rhs`.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor {
        var out = lhs
        out.scale(by: rhs)
        return out
    }
}

/// Exact GELU, `x · 0.5 · (1 + erf(x / √2))`. See `Tensor.applyGELU`.
public func gelu(_ x: Tensor) -> Tensor { var y = x; y.applyGELU(); return y }

/// Quick GELU, `x · sigmoid(1.702 x)`. See `Tensor.applyQuickGELU`.
public func quickGELU(_ x: Tensor) -> Tensor { var y = x; y.applyQuickGELU(); return y }

/// Elementwise tanh.
public func tanh(_ x: Tensor) -> Tensor { var y = x; y.applyTanh(); return y }

/// Elementwise logistic sigmoid.
public func sigmoid(_ x: Tensor) -> Tensor { var y = x; y.applySigmoid(); return y }

/// Per-channel PReLU (channel axis 1). See `Tensor.applyPReLU`.
public func prelu(_ x: Tensor, weight: Tensor) -> Tensor { var y = x; y.applyPReLU(weight: weight); return y }
