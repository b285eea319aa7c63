/// librosa's centred framing: the signal is zero-padded by `nFFT / 2` on each side and frame `t` covers padded
/// samples `[t * hop, t * hop + nFFT)`.
public enum Framing {
    /// `1 + (n + 2 * (nFFT / 2) - nFFT) // hop` with Python's floor division: `1 + n / hop` for even `nFFT`.
    /// An empty signal therefore has one (all-zero) frame for even `nFFT`, and none for odd `nFFT`.
    public static func centredFrameCount(samples n: Int, nFFT: Int, hop: Int) -> Int {
        precondition(n >= 0 && nFFT >= 1 && hop >= 1)
        let span = n + 2 * (nFFT / 2) - nFFT
        let floorDiv = span >= 0 ? span / hop : -((-span + hop - 1) / hop)
        return max(0, 1 + floorDiv)
    }
}
