import Foundation
import Models
import Tensor
import TestSupport
import Tokenizers
import XCTest

/// Parity with transformers' `BertModel` on goldens from `Tools/make_bert_goldens.py`.
/// Tolerance: 1e-4 absolute on every output value (float32 on both sides; differences come from summation order),
/// under both weight-product precisions (`forEachProductPrecision`).
final class BertGoldenTests: XCTestCase {
    static let tolerance: Float = 1e-4

    /// Runs fixture `name` and compares last_hidden_state, pooler_output and (if present) all hidden states.
    private func check(_ name: String, folder: URL? = nil, hiddenStates: Bool) throws -> BertModel {
        let model = try BertModel(folder: folder ?? ModelFixtures.url(name))
        let inputs = try ModelFixtures.inputs(name)
        try forEachProductPrecision { precision in
            let out = try model.forward(ids: inputs.ids, tokenTypes: inputs.token_type_ids, mask: inputs.attention_mask,
                                        outputHiddenStates: hiddenStates)
            let (b, l, h) = (inputs.ids.count, inputs.ids[0].count, model.config.hiddenSize)
            XCTAssertEqual(out.lastHiddenState.shape, [b, l, h])
            XCTAssertEqual(out.pooled.shape, [b, h])
            assertClose(out.lastHiddenState, try ModelFixtures.floats(name, "last_hidden_state.f32"),
                        tolerance: Self.tolerance, "\(name) \(precision) last_hidden_state")
            assertClose(out.pooled, try ModelFixtures.floats(name, "pooler_output.f32"),
                        tolerance: Self.tolerance, "\(name) \(precision) pooler_output")
            if hiddenStates {
                let states = try XCTUnwrap(out.hiddenStates)
                XCTAssertEqual(states.count, model.config.numHiddenLayers + 1)
                assertClose(Tensor.concatenate(states.map { $0.reshaped([1] + $0.shape) }, axis: 0),
                            try ModelFixtures.floats(name, "hidden_states.f32"), tolerance: Self.tolerance,
                            "\(name) \(precision) hidden_states")
            } else {
                XCTAssertNil(out.hiddenStates)
            }
        }
        return model
    }

    /// save_pretrained keys (no prefix, LayerNorm weight/bias), 2 layers, hidden 32.
    func testTinyBertMatchesTransformers() throws {
        let model = try check("bert-tiny-a", hiddenStates: true)
        XCTAssertEqual(model.config.numHiddenLayers, 2)
        XCTAssertEqual(model.config.layerNormEps, 1e-12)
    }

    /// Hub legacy keys (`bert.` prefix, gamma/beta, a `cls.` head, int64 position_ids), 3 layers, hidden 48,
    /// three token types.
    func testLegacyKeyedTinyBertMatchesTransformers() throws {
        let model = try check("bert-tiny-b", hiddenStates: true)
        XCTAssertEqual(model.config.hiddenSize, 48)
        XCTAssertEqual(model.config.typeVocabSize, 3)
    }

    /// The real all-MiniLM-L6-v2 checkpoint on 4 sentences tokenised by transformers' BertTokenizerFast.
    func testMiniLMMatchesTransformers() throws {
        let folder = try ModelFixtures.requireMiniLM()
        let model = try check("minilm", folder: folder, hiddenStates: false)
        XCTAssertEqual(model.config.hiddenSize, 384)
        XCTAssertEqual(model.config.numHiddenLayers, 6)
    }

    /// The Swift tokenizer and model end to end: `BertTokenizer` on the same 4 sentences gives transformers'
    /// ids, and `forward(_ encodings:)` (padding to the longest row) gives its outputs within 1e-4.
    func testMiniLMFromSwiftTokenizerMatchesTransformers() throws {
        let folder = try ModelFixtures.requireMiniLM()
        let sentences = try Golden.json([String].self, ModelFixtures.url("minilm").appendingPathComponent("sentences.json"))
        let inputs = try ModelFixtures.inputs("minilm")
        let tokenizer = try BertTokenizer(folder: folder)
        let encodings = tokenizer.encodeBatch(sentences.map { ($0, nil) }, maxLength: 128)
        let length = inputs.ids[0].count
        XCTAssertEqual(encodings.map { $0.ids + Array(repeating: 0, count: length - $0.count) }, inputs.ids)
        let model = try BertModel(folder: folder)
        let out = try model.forward(encodings)
        assertClose(out.lastHiddenState, try ModelFixtures.floats("minilm", "last_hidden_state.f32"),
                    tolerance: Self.tolerance, "minilm (Swift tokenizer) last_hidden_state")
        assertClose(out.pooled, try ModelFixtures.floats("minilm", "pooler_output.f32"),
                    tolerance: Self.tolerance, "minilm (Swift tokenizer) pooler_output")
    }

    /// A padded row gives the same real-token outputs as the row alone (the mask hides padding).
    func testPaddingDoesNotChangeRealTokens() throws {
        let model = try BertModel(folder: ModelFixtures.url("bert-tiny-a"))
        let inputs = try ModelFixtures.inputs("bert-tiny-a")
        let row = 1, n = inputs.attention_mask[row].reduce(0) { $0 + Int($1) }
        let alone = try model.forward(ids: [Array(inputs.ids[row].prefix(n))],
                                      tokenTypes: [Array(inputs.token_type_ids[row].prefix(n))],
                                      mask: [Array(repeating: 1, count: n)])
        let batch = try model.forward(ids: inputs.ids, tokenTypes: inputs.token_type_ids, mask: inputs.attention_mask)
        let padded = batch.lastHiddenState.slice(axis: 0, row..<(row + 1)).slice(axis: 1, 0..<n)
        let (worst, _) = Golden.maxAbsDiff(padded.scalars, alone.lastHiddenState.scalars)
        XCTAssertLessThanOrEqual(worst, 1e-5)
        let (worstPooled, _) = Golden.maxAbsDiff(batch.pooled.slice(axis: 0, row..<(row + 1)).scalars, alone.pooled.scalars)
        XCTAssertLessThanOrEqual(worstPooled, 1e-5)
    }

    func testConfigDefaultsAreTransformers() throws {
        let config = try JSONDecoder().decode(BertConfig.self, from: Data("{}".utf8))
        XCTAssertEqual(config, BertConfig())
        XCTAssertEqual(config.vocabSize, 30522)
        XCTAssertEqual(config.hiddenSize, 768)
        XCTAssertEqual(config.numHiddenLayers, 12)
        XCTAssertEqual(config.numAttentionHeads, 12)
        XCTAssertEqual(config.intermediateSize, 3072)
        XCTAssertEqual(config.hiddenAct, "gelu")
        XCTAssertEqual(config.maxPositionEmbeddings, 512)
        XCTAssertEqual(config.typeVocabSize, 2)
        XCTAssertEqual(config.layerNormEps, 1e-12)
    }
}
