/// Power to decibels with librosa's conventions.
public enum Decibels {
    /// `librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=topDB)` over the whole array, float32:
    /// `10 * log10(max(1e-10, p))`, then (when `topDB` is not nil) `max(v, max(all v) - topDB)`.
    ///
    /// - Parameters:
    ///   - power: power values (finite, >= 0), any layout; the `topDB` maximum is taken over all of them.
    ///   - topDB: dynamic range kept below the maximum, >= 0; nil for no clamp.
    /// - Returns: decibels, same layout, within 1e-6 dB of `Float(10 * log10(Double(max(1e-10, p))))` (2 float32
    ///   ulps wherever the value is at least 1 dB in magnitude).
    public static func powerToDB(_ power: [Float], topDB: Float? = 80) -> [Float] {
        var values = power
        powerToDBInPlace(&values, topDB: topDB)
        return values
    }

    static func powerToDBInPlace(_ values: inout [Float], topDB: Float?) {
        let amin: Float = 1e-10
        values.withUnsafeMutableBufferPointer { v in
            for i in 0..<v.count { v[i] = decibels(max(amin, v[i])) }
            guard let topDB else { return }
            // Four running maxima (a single one is a serial dependency chain the compiler keeps scalar).
            var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0
            var i = 0
            while i + 4 <= v.count {
                m0 = max(m0, v[i]); m1 = max(m1, v[i + 1]); m2 = max(m2, v[i + 2]); m3 = max(m3, v[i + 3])
                i += 4
            }
            while i < v.count { m0 = max(m0, v[i]); i += 1 }
            let floor = max(max(m0, m1), max(m2, m3)) - topDB
            for i in 0..<v.count { v[i] = max(v[i], floor) }
        }
    }
}
