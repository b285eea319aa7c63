import Foundation
import Tensor
import Tokenizers

extension BertModel {
    /// Runs the encoder on tokenizer output, padding every row to the longest one (id `padTokenId`, token type 0,
    /// mask 0), as transformers' `padding=True` does.
    /// - Parameters:
    ///   - encodings: from `BertTokenizer.encode` / `encodeBatch` (already padded rows are fine too).
    ///   - outputHiddenStates: also return every layer's output.
    /// - Returns: the outputs for the padded batch, `[B, L, H]` with L the longest row.
    /// - Throws: `ModelError.invalidInput`, as `forward(ids:tokenTypes:mask:outputHiddenStates:)`.
    public func forward(_ encodings: [Encoding], outputHiddenStates: Bool = false) throws -> Output {
        let length = encodings.map(\.count).max() ?? 0
        func padded(_ row: [Int32], _ value: Int32) -> [Int32] {
            row + [Int32](repeating: value, count: length - row.count)
        }
        return try forward(ids: encodings.map { padded($0.ids, Int32(config.padTokenId)) },
                           tokenTypes: encodings.map { padded($0.tokenTypeIds, 0) },
                           mask: encodings.map { padded($0.attentionMask, 0) },
                           outputHiddenStates: outputHiddenStates)
    }
}
