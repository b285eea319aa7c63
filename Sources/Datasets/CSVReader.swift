import Foundation

/// One record of a CSV file: its fields and the 1-based line it starts on.
struct CSVRecord {
    var line: Int
    var fields: [String]
    /// A quoted field was still open at the end of the line.
    var unterminatedQuote: Bool
}

/// A minimal RFC-4180 reader over UTF-8 bytes: `,` separators, `"` quoting, doubled quotes, CRLF, LF or CR.
///
/// Deliberately line-bound: a quote still open at the end of a line ends the record there and marks it
/// `unterminatedQuote`, so one stray quote cannot swallow the rest of the file (MELD has no embedded newlines).
/// Lenient elsewhere: a quote inside an unquoted field, or text after a closing quote, is kept literally.
/// Blank lines are skipped.
func readCSV(_ bytes: [UInt8], _ body: (CSVRecord) -> Void) {
    let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
    bytes.withUnsafeBufferPointer { b in
        let n = b.count
        var i = 0, line = 1
        var field: [UInt8] = []
        field.reserveCapacity(512)
        while i < n {
            var record = CSVRecord(line: line, fields: [], unterminatedQuote: false)
            var sawQuote = false
            fields: while true {
                field.removeAll(keepingCapacity: true)
                if i < n, b[i] == quote {
                    sawQuote = true
                    i += 1
                    while true {
                        guard i < n, b[i] != lf, b[i] != cr else { record.unterminatedQuote = true; break }
                        if b[i] == quote {
                            if i + 1 < n, b[i + 1] == quote { field.append(quote); i += 2; continue }
                            i += 1
                            break
                        }
                        field.append(b[i])
                        i += 1
                    }
                }
                while i < n, b[i] != comma, b[i] != lf, b[i] != cr {
                    field.append(b[i])
                    i += 1
                }
                record.fields.append(String(decoding: field, as: UTF8.self))
                guard i < n, b[i] == comma else { break fields }
                i += 1
            }
            if i < n, b[i] == cr { i += 1 }
            if i < n, b[i] == lf { i += 1 }
            line += 1
            if record.fields == [""] && !sawQuote { continue }
            body(record)
        }
    }
}
