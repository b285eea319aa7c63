import Foundation

/// MELD's `StartTime`/`EndTime` (MELD-DATA.md §4).
public enum MELDTime {
    /// "00:06:47,28" → 407.28; 1–2 hour digits, 1–3 fraction digits read as a decimal fraction; "," or ".".
    ///
    /// The shape is `H:MM:SS,f` with minutes and seconds below 60; surrounding spaces are ignored.
    /// Returns nil for anything else.
    public static func parse(_ s: String) -> Double? {
        let b = Array(trimmedSpaces(s).utf8)
        var i = 0
        /// The run of up to 4 digits at `i`, and how many there were.
        func digits() -> (value: Int, count: Int) {
            var value = 0, count = 0
            while i < b.count, count < 4, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) {
                value = value * 10 + Int(b[i] - UInt8(ascii: "0"))
                count += 1
                i += 1
            }
            return (value, count)
        }
        /// Steps over one byte of `allowed` at `i`.
        func separator(_ allowed: String) -> Bool {
            guard i < b.count, allowed.utf8.contains(b[i]) else { return false }
            i += 1
            return true
        }
        let h = digits()
        guard (1...2).contains(h.count), separator(":") else { return nil }
        let m = digits()
        guard m.count == 2, m.value < 60, separator(":") else { return nil }
        let sec = digits()
        guard sec.count == 2, sec.value < 60, separator(",.") else { return nil }
        let frac = digits()
        guard (1...3).contains(frac.count), i == b.count else { return nil }
        // Integer arithmetic, then one division, so "00:06:47,28" is exactly the Double 407.28.
        let scale = [1, 10, 100, 1000][frac.count]
        return Double((h.value * 3600 + m.value * 60 + sec.value) * scale + frac.value) / Double(scale)
    }
}
