import Datasets
import Foundation
import Models
import Tensor
import Tokenizers

/// `text`: a BERT embedding of each utterance (bert-base-uncased, max 128 tokens, the CLS vector by default),
/// computed natively from a Hugging Face checkpoint folder. Needs no media: it runs on a dataset root that holds
/// only the CSVs. Utterances of a shard are batched by token length.
///
/// Input text: the utterance after the CSV encoding repair and nothing else; with `context` N > 0, the first
/// segment is the N previous utterances of the same dialogue as `Speaker: text` joined by spaces (empty for the
/// first utterance), and the second segment is `Speaker: text` of the utterance itself (token types 0 and 1),
/// truncated to `max_length` with the fast tokenizer's longest-first rule.
/// An empty utterance is encoded as `[CLS] [SEP]` and is a valid item; an utterance longer than `max_length`
/// tokens is truncated and flagged in `truncated`.
public enum TextStage: StageKind {
    public static let kind = "text"
    public static let version = 1
    public static let input = StageInput.annotation
    public static let poolings = ["cls", "mean", "max", "mean+max", "pooler"]
    public static let paramSchema: [String: ParamSpec] = [
        "model": ParamSpec(.path, .string("Models/bert-base-uncased"),
                           help: "BERT checkpoint folder (config.json, model.safetensors, vocab.txt or tokenizer.json)"),
        "max_length": ParamSpec(.int, .int(128), help: "tokens per input, special tokens included"),
        "context": ParamSpec(.int, .int(0), help: "previous utterances of the dialogue given as the first segment"),
        "pooling": ParamSpec(.string, .string("cls"), allowed: poolings,
                             help: "cls, mean (over real tokens), max, mean+max, or pooler (tanh dense on CLS)"),
        "layer": ParamSpec(.int, .int(-1), help: "hidden state pooled: -1 the last layer, 0 the embeddings, k layer k"),
        "keep_tokens": ParamSpec(.bool, .bool(false), help: "also store every token's vector (variable length)"),
        "batch_size": ParamSpec(.int, .int(32), help: "utterances per forward pass (batched by length)"),
    ]

    public static func validate(_ p: Params) -> String? {
        if !(3...512).contains(p.int("max_length")) { return "max_length must be between 3 and 512" }
        if !(0...100).contains(p.int("context")) { return "context must be between 0 and 100 utterances" }
        if !(1...4096).contains(p.int("batch_size")) { return "batch_size must be between 1 and 4096" }
        if p.string("pooling") == "pooler", p.int("layer") != -1 { return "pooling pooler works on the last layer only (layer -1)" }
        return nil
    }

    static let howToGet = "Get bert-base-uncased with `Tools/fetch_models.sh bert` (see README, \"Models\")."

    public static func make(_ spec: StageSpec, upstream: [StageSpec], environment: StageEnvironment) throws -> StageRunner {
        let p = spec.params
        let folder = try ModelFolder.resolve(
            stage: spec.name, path: p.string("model"), environment: environment, standIn: "bert-tiny",
            files: ["config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json"],
            howToGet: howToGet)
        let model: BertModel, tokenizer: BertTokenizer
        do {
            model = try BertModel(folder: folder.url)
            tokenizer = try BertTokenizer(folder: folder.url)
        } catch {
            throw ConfigurationError("stage `\(spec.name)`: cannot load the BERT checkpoint in \(folder.url.path): \(error)")
        }
        let c = model.config
        if tokenizer.vocabSize != c.vocabSize {
            throw ConfigurationError("stage `\(spec.name)`: the tokenizer in \(folder.url.path) has \(tokenizer.vocabSize) tokens "
                                     + "but config.json says vocab_size \(c.vocabSize): the vocabulary and the weights do not belong together")
        }
        if p.int("max_length") > c.maxPositionEmbeddings {
            throw ConfigurationError("stage `\(spec.name)`: max_length \(p.int("max_length")) exceeds the model's "
                                     + "max_position_embeddings \(c.maxPositionEmbeddings)")
        }
        let layer = p.int("layer")
        guard (-c.numHiddenLayers - 1...c.numHiddenLayers).contains(layer) else {
            throw ConfigurationError("stage `\(spec.name)`: layer \(layer) does not exist (the model has \(c.numHiddenLayers) "
                                     + "layers: use 0...\(c.numHiddenLayers), or -1 for the last)")
        }
        return Runner(name: spec.name, params: p, folder: folder, model: model, tokenizer: tokenizer)
    }

    final class Runner: ShardStageRunner, AnnotationInputRunner, @unchecked Sendable {
        let name: String
        let params: Params
        let folder: ModelFolder
        let model: BertModel
        let tokenizer: BertTokenizer
        let maxLength: Int, context: Int, batchSize: Int
        let pooling: String
        /// Index into `hidden_states` (0 the embeddings ... layers the last).
        let hiddenIndex: Int
        let keepTokens: Bool

        init(name: String, params: Params, folder: ModelFolder, model: BertModel, tokenizer: BertTokenizer) {
            self.name = name
            self.params = params
            self.folder = folder
            self.model = model
            self.tokenizer = tokenizer
            maxLength = params.int("max_length")
            context = params.int("context")
            batchSize = params.int("batch_size")
            pooling = params.string("pooling")
            let layers = model.config.numHiddenLayers
            let layer = params.int("layer")
            hiddenIndex = layer < 0 ? layers + 1 + layer : layer
            keepTokens = params["keep_tokens"].boolValue ?? false
        }

        var hidden: Int { model.config.hiddenSize }
        var width: Int { pooling == "mean+max" ? 2 * hidden : hidden }

        var output: OutputSchema? {
            OutputSchema(fixedShape: [width], sequenceRowShape: keepTokens ? [hidden] : nil,
                         perItemInts: ["n_tokens", "truncated"], chunkRows: 8)
        }

        var paramsIdentity: String? { folder.paramsIdentity(params) }

        var attributes: [String: String] {
            var a = folder.encoderAttributes
            a["pooling"] = pooling
            a["layer"] = String(hiddenIndex)
            a["hidden_size"] = String(hidden)
            a["axes"] = keepTokens
                ? "features[item, \(width)]; values[token, \(hidden)] (rows of item i: offsets[i]..<offsets[i+1], [CLS] first)"
                : "features[item, \(width)]"
            a["input"] = context > 0
                ? "first segment: the \(context) previous utterances as 'Speaker: text'; second: 'Speaker: text'"
                : "the utterance text"
            return a
        }

        /// The one or two segments fed to the tokenizer.
        func segments(_ u: Utterance, dialogues: DialogueIndex) -> (String, String?) {
            guard context > 0 else { return (u.text, nil) }
            let previous = dialogues.previous(u.key, count: context).map { "\($0.speaker): \($0.text)" }
            return (previous.joined(separator: " "), "\(u.speaker): \(u.text)")
        }

        func annotationIdentity(_ u: Utterance, dialogues: DialogueIndex) -> String {
            let (a, b) = segments(u, dialogues: dialogues)
            return b.map { "\(a)\u{1}\($0)" } ?? a
        }

        func run(_ item: ItemContext) throws -> StageValue {
            let r = runShard([item.utterance], dialogues: DialogueIndex([item.utterance]))[0]
            return .feature(try r.get())
        }

        func runShard(_ items: [Utterance], dialogues: DialogueIndex) -> [Result<ItemFeature, ItemFailure>] {
            let inputs = items.map { segments($0, dialogues: dialogues) }
            // Tokenise once without a limit (that length says whether the item is truncated); only the few
            // longer than max_length are encoded again with the fast tokenizer's truncation.
            let full = tokenizer.encodeBatch(inputs, maxLength: nil)
            let fullLengths = full.map(\.count)
            let encodings = full.indices.map { i in
                full[i].count > maxLength ? tokenizer.encode(inputs[i].0, pair: inputs[i].1, maxLength: maxLength) : full[i]
            }
            var results = [Result<ItemFeature, ItemFailure>?](repeating: nil, count: items.count)
            // Batches of similar length: sort by length (ties by position), so padding stays small.
            let order = encodings.indices.sorted { (encodings[$0].count, $0) < (encodings[$1].count, $1) }
            for start in stride(from: 0, to: order.count, by: batchSize) {
                let batch = Array(order[start..<min(start + batchSize, order.count)])
                do {
                    let out = try model.forward(batch.map { encodings[$0] }, outputHiddenStates: hiddenIndex != model.config.numHiddenLayers)
                    let states = out.hiddenStates?[hiddenIndex] ?? out.lastHiddenState
                    let length = states.shape[1]
                    states.withUnsafeBufferPointer { x in
                        out.pooled.withUnsafeBufferPointer { pooled in
                            for (b, i) in batch.enumerated() {
                                let n = encodings[i].count
                                let rows = UnsafeBufferPointer(rebasing: x[(b * length * hidden)..<((b * length + n) * hidden)])
                                var f = ItemFeature()
                                f.fixed = pool(rows, tokens: n, pooled: Array(pooled[(b * hidden)..<((b + 1) * hidden)]))
                                if keepTokens { f.sequence = Array(rows); f.sequenceRows = n }
                                f.perItemInts = ["n_tokens": Int64(n), "truncated": fullLengths[i] > maxLength ? 1 : 0]
                                results[i] = .success(f)
                            }
                        }
                    }
                } catch {
                    for i in batch {
                        results[i] = .failure(ItemFailure(reason: "model_error", message: "\(name): \(error)"))
                    }
                }
            }
            return results.map { $0! }
        }

        /// Pools `tokens` rows of `hidden` values (real tokens only; padding is never included).
        func pool(_ rows: UnsafeBufferPointer<Float>, tokens n: Int, pooled: [Float]) -> [Float] {
            switch pooling {
            case "pooler": return pooled
            case "cls": return Array(rows[0..<hidden])
            default:
                var mean = [Float](repeating: 0, count: hidden)
                var maxv = [Float](repeating: -.infinity, count: hidden)
                for t in 0..<n {
                    for j in 0..<hidden {
                        let v = rows[t * hidden + j]
                        mean[j] += v
                        maxv[j] = Swift.max(maxv[j], v)
                    }
                }
                for j in 0..<hidden { mean[j] /= Float(n) }
                switch pooling {
                case "mean": return mean
                case "max": return maxv
                default: return mean + maxv
                }
            }
        }
    }
}
