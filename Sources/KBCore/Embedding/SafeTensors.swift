import Foundation

/// Reads fp32 tensors from a `.safetensors` file (8-byte little-endian header length, JSON header,
/// then the raw tensor bytes).
struct SafeTensorsFile {
    struct Entry { var dtype: String; var shape: [Int]; var range: Range<Int> }

    let path: String
    private let data: Data
    private let dataStart: Int
    let entries: [String: Entry]

    init(path: String) throws(KBError) {
        self.path = path
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw KBError(.model, "Cannot read \(path). Run scripts/setup.sh to fetch the models.")
        }
        guard data.count >= 8 else { throw KBError(.model, "\(path) is too short to be a safetensors file.") }
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        guard headerLength > 0, 8 + headerLength <= data.count,
              let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any] else {
            throw KBError(.model, "\(path) has no valid safetensors header.")
        }
        var entries: [String: Entry] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String, let shape = info["shape"] as? [Int],
                  let offsets = info["data_offsets"] as? [Int], offsets.count == 2, offsets[0] <= offsets[1] else {
                throw KBError(.model, "\(path): tensor \(name) has a malformed header entry.")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        self.data = data
        self.dataStart = 8 + headerLength
        self.entries = entries
    }

    /// A tensor's values as fp32, checked against the expected shape.
    func floats(_ name: String, shape expected: [Int]) throws(KBError) -> [Float] {
        guard let entry = entries[name] else { throw KBError(.model, "\(path) has no tensor \(name).") }
        guard entry.dtype == "F32" else { throw KBError(.model, "\(path): tensor \(name) is \(entry.dtype); kb reads F32 safetensors.") }
        guard entry.shape == expected else {
            throw KBError(.model, "\(path): tensor \(name) has shape \(entry.shape), expected \(expected) from config.json.")
        }
        let count = expected.reduce(1, *)
        guard entry.range.count == count * 4, dataStart + entry.range.upperBound <= data.count else {
            throw KBError(.model, "\(path): tensor \(name) has \(entry.range.count) bytes, expected \(count * 4); the file is truncated or damaged.")
        }
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBytes { destination in
            data.withUnsafeBytes { source in
                destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[(dataStart + entry.range.lowerBound)..<(dataStart + entry.range.upperBound)]))
            }
        }
        return out   // little-endian host assumed (x86-64, arm64)
    }
}

/// Loads a Hugging Face BERT-family sentence-transformers folder: `config.json`, `model.safetensors`,
/// `vocab.txt` (or `tokenizer.json`).
enum BertFolderLoader {
    static func load(folder: String) throws(KBError) -> (EncoderWeights, WordPieceTokenizer, maxTokens: Int) {
        let fileManager = FileManager.default
        guard fileManager.fileExists(atPath: folder) else {
            throw KBError(.model, "The model folder \(folder) does not exist. Run scripts/setup.sh to fetch the models, or set KB_MODELS.")
        }
        for file in ["config.json", "model.safetensors"] where !fileManager.fileExists(atPath: folder + "/" + file) {
            throw KBError(.model, "The model folder \(folder) has no \(file). A sentence-transformers folder needs config.json, model.safetensors and vocab.txt or tokenizer.json.")
        }
        guard let configData = fileManager.contents(atPath: folder + "/config.json"),
              let config = try? JSONSerialization.jsonObject(with: configData) as? [String: Any] else {
            throw KBError(.model, "\(folder)/config.json is not valid JSON.")
        }
        func int(_ key: String) throws(KBError) -> Int {
            guard let value = config[key] as? Int else { throw KBError(.model, "\(folder)/config.json has no integer `\(key)`.") }
            return value
        }
        let hidden = try int("hidden_size"), layers = try int("num_hidden_layers"), heads = try int("num_attention_heads")
        let intermediate = try int("intermediate_size"), vocabulary = try int("vocab_size")
        let maxPositions = try int("max_position_embeddings")
        let eps = Float(config["layer_norm_eps"] as? Double ?? 1e-12)
        if let activation = config["hidden_act"] as? String, activation != "gelu" {
            throw KBError(.model, "\(folder): hidden_act \(activation) is not supported (kb implements BERT's exact GELU).")
        }

        let tensors = try SafeTensorsFile(path: folder + "/model.safetensors")
        // Some exports prefix names with "bert.".
        let prefix = tensors.entries["embeddings.word_embeddings.weight"] != nil ? "" : "bert."
        func t(_ name: String, _ shape: [Int]) throws(KBError) -> [Float] { try tensors.floats(prefix + name, shape: shape) }

        var layerWeights: [EncoderWeights.Layer] = []
        for i in 0..<layers {
            let p = "encoder.layer.\(i)."
            let qkv = try t(p + "attention.self.query.weight", [hidden, hidden]) + t(p + "attention.self.key.weight", [hidden, hidden])
                + t(p + "attention.self.value.weight", [hidden, hidden])
            let qkvBias = try t(p + "attention.self.query.bias", [hidden]) + t(p + "attention.self.key.bias", [hidden])
                + t(p + "attention.self.value.bias", [hidden])
            layerWeights.append(EncoderWeights.Layer(
                qkvWeight: qkv, qkvBias: qkvBias,
                outputWeight: try t(p + "attention.output.dense.weight", [hidden, hidden]),
                outputBias: try t(p + "attention.output.dense.bias", [hidden]),
                attentionNormGamma: try t(p + "attention.output.LayerNorm.weight", [hidden]),
                attentionNormBeta: try t(p + "attention.output.LayerNorm.bias", [hidden]),
                intermediateWeight: try t(p + "intermediate.dense.weight", [intermediate, hidden]),
                intermediateBias: try t(p + "intermediate.dense.bias", [intermediate]),
                ffnOutputWeight: try t(p + "output.dense.weight", [hidden, intermediate]),
                ffnOutputBias: try t(p + "output.dense.bias", [hidden]),
                outputNormGamma: try t(p + "output.LayerNorm.weight", [hidden]),
                outputNormBeta: try t(p + "output.LayerNorm.bias", [hidden])))
        }
        let tokenTypes = try tensors.entries[prefix + "embeddings.token_type_embeddings.weight"].map { entry throws(KBError) in
            try t("embeddings.token_type_embeddings.weight", entry.shape)
        }
        let weights = EncoderWeights(
            hidden: hidden, heads: heads, intermediate: intermediate, layerNormEps: eps, positionOffset: 0,
            maxPositions: maxPositions,
            wordEmbeddings: .dense(try t("embeddings.word_embeddings.weight", [vocabulary, hidden])),
            positionEmbeddings: try t("embeddings.position_embeddings.weight", [maxPositions, hidden]),
            tokenTypeEmbedding: tokenTypes.map { Array($0.prefix(hidden)) } ?? [Float](repeating: 0, count: hidden),
            embeddingNormGamma: try t("embeddings.LayerNorm.weight", [hidden]),
            embeddingNormBeta: try t("embeddings.LayerNorm.bias", [hidden]),
            layers: layerWeights)
        try weights.validate(source: folder)

        // Tokenizer: vocab.txt, or the WordPiece vocabulary inside tokenizer.json.
        var lowercase = true
        if let data = fileManager.contents(atPath: folder + "/tokenizer_config.json"),
           let tokenizerConfig = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let flag = tokenizerConfig["do_lower_case"] as? Bool { lowercase = flag }
        let tokenizer: WordPieceTokenizer
        if fileManager.fileExists(atPath: folder + "/vocab.txt") {
            tokenizer = try WordPieceTokenizer.load(vocabFile: folder + "/vocab.txt", lowercase: lowercase)
        } else if let data = fileManager.contents(atPath: folder + "/tokenizer.json"),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let model = json["model"] as? [String: Any], model["type"] as? String == "WordPiece",
                  let vocab = model["vocab"] as? [String: Int] {
            tokenizer = try WordPieceTokenizer(vocabulary: vocab.mapValues { Int32($0) }, lowercase: lowercase)
        } else {
            throw KBError(.model, "\(folder) has neither vocab.txt nor a WordPiece tokenizer.json.")
        }
        var maxTokens = min(512, maxPositions)
        if let data = fileManager.contents(atPath: folder + "/sentence_bert_config.json"),
           let st = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let limit = st["max_seq_length"] as? Int {
            maxTokens = min(limit, maxPositions)
        }
        return (weights, tokenizer, maxTokens)
    }
}
