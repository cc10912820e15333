import Foundation

/// The token-embedding matrix: fp32, or 4-bit rows dequantised as they are looked up.
enum WordEmbeddingTable: Sendable {
    case dense([Float])
    case quantized(Q4Rows)

    func rows(width: Int) -> Int {
        switch self {
        case .dense(let values): return values.count / width
        case .quantized(let table): return table.rows
        }
    }

    /// Writes row `index` to `out`.
    func row(_ index: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
        switch self {
        case .dense(let values):
            values.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + index * width, count: width) }
        case .quantized(let table):
            table.row(index, into: out)
        }
    }
}

/// Weights of a BERT-style encoder (post-LayerNorm), fp32, matrices row-major as [out, in].
struct EncoderWeights: Sendable {
    struct Layer: Sendable {
        /// Query, key and value projections stacked: [3·hidden, hidden] and [3·hidden].
        var qkvWeight: [Float]
        var qkvBias: [Float]
        var outputWeight: [Float]      // [hidden, hidden]
        var outputBias: [Float]
        var attentionNormGamma: [Float]
        var attentionNormBeta: [Float]
        var intermediateWeight: [Float] // [intermediate, hidden]
        var intermediateBias: [Float]
        var ffnOutputWeight: [Float]    // [hidden, intermediate]
        var ffnOutputBias: [Float]
        var outputNormGamma: [Float]
        var outputNormBeta: [Float]
    }

    var hidden: Int
    var heads: Int
    var intermediate: Int
    var layerNormEps: Float
    /// First position id (0 for BERT; 2 for XLM-R-style models, whose positions start after the padding index).
    var positionOffset: Int
    var maxPositions: Int
    var wordEmbeddings: WordEmbeddingTable
    var positionEmbeddings: [Float]   // [maxPositions, hidden]
    var tokenTypeEmbedding: [Float]   // [hidden], type 0
    var embeddingNormGamma: [Float]
    var embeddingNormBeta: [Float]
    var layers: [Layer]

    var vocabularySize: Int { wordEmbeddings.rows(width: hidden) }

    /// Checks every shape against the configuration; the message names the tensor.
    func validate(source: String) throws(KBError) {
        func check(_ name: String, _ array: [Float], _ expected: Int) throws(KBError) {
            if array.count != expected {
                throw KBError(.model, "\(source): tensor \(name) has \(array.count) values, expected \(expected). The model files do not match their configuration.")
            }
        }
        guard hidden % heads == 0 else { throw KBError(.model, "\(source): hidden size \(hidden) is not divisible by \(heads) heads.") }
        try check("position embeddings", positionEmbeddings, maxPositions * hidden)
        try check("token type embedding", tokenTypeEmbedding, hidden)
        try check("embedding LayerNorm", embeddingNormGamma, hidden)
        for (i, layer) in layers.enumerated() {
            try check("layer \(i) qkv", layer.qkvWeight, 3 * hidden * hidden)
            try check("layer \(i) qkv bias", layer.qkvBias, 3 * hidden)
            try check("layer \(i) attention output", layer.outputWeight, hidden * hidden)
            try check("layer \(i) intermediate", layer.intermediateWeight, intermediate * hidden)
            try check("layer \(i) output", layer.ffnOutputWeight, hidden * intermediate)
            try check("layer \(i) LayerNorm", layer.outputNormGamma, hidden)
        }
        if case .dense(let values) = wordEmbeddings, values.isEmpty || values.count % hidden != 0 {
            throw KBError(.model, "\(source): word embeddings have \(values.count) values, not a multiple of \(hidden).")
        }
    }
}

/// A transformer encoder forward pass: embeddings, self-attention softmax(QKᵀ/√d)·V over several
/// heads, feed-forward with exact GELU, residuals and LayerNorm; then mean pooling and L2
/// normalisation.
///
/// Sequences of a batch are packed end to end without padding: the dense layers run over all
/// tokens at once, and attention runs per sequence over its own tokens only — the same result as
/// an attention mask over padded sequences, without computing the padding.
final class TransformerEncoder: Sendable {
    let weights: EncoderWeights

    init(weights: EncoderWeights) { self.weights = weights }

    /// Pooled, L2-normalised vectors for a batch of token-id sequences.
    func encode(_ sequences: [[Int32]]) -> [[Float]] {
        let w = weights
        let h = w.hidden, heads = w.heads, d = h / heads
        let lengths = sequences.map { min($0.count, w.maxPositions - w.positionOffset) }
        let total = lengths.reduce(0, +)
        guard total > 0 else { return sequences.map { _ in [Float](repeating: 0, count: h) } }
        var starts: [Int] = []
        var offset = 0
        for length in lengths { starts.append(offset); offset += length }

        var x = [Float](repeating: 0, count: total * h)
        var qkv = [Float](repeating: 0, count: total * 3 * h)
        var context = [Float](repeating: 0, count: total * h)
        var scratch = [Float](repeating: 0, count: total * h)
        var ffn = [Float](repeating: 0, count: total * w.intermediate)
        let longest = lengths.max() ?? 0
        var scores = [Float](repeating: 0, count: longest * longest)
        let scale = 1 / Float(d).squareRoot()

        x.withUnsafeMutableBufferPointer { xb in
            let xp = xb.baseAddress!
            // Embeddings: word + position + token type 0, then LayerNorm.
            let vocabulary = w.vocabularySize
            w.positionEmbeddings.withUnsafeBufferPointer { positions in
                for (s, sequence) in sequences.enumerated() {
                    for t in 0..<lengths[s] {
                        let row = xp + (starts[s] + t) * h
                        let id = Int(sequence[t])
                        w.wordEmbeddings.row(id >= 0 && id < vocabulary ? id : 0, width: h, into: row)
                        let position = positions.baseAddress! + (t + w.positionOffset) * h
                        for i in 0..<h { row[i] += position[i] + w.tokenTypeEmbedding[i] }
                    }
                }
            }
            Kernels.layerNorm(xp, rows: total, width: h, gamma: w.embeddingNormGamma, beta: w.embeddingNormBeta, eps: w.layerNormEps)

            for layer in w.layers {
                qkv.withUnsafeMutableBufferPointer { qb in
                    context.withUnsafeMutableBufferPointer { cb in
                        scratch.withUnsafeMutableBufferPointer { sb in
                            ffn.withUnsafeMutableBufferPointer { fb in
                                scores.withUnsafeMutableBufferPointer { scb in
                                    forwardLayer(layer, x: xp, qkv: qb.baseAddress!, context: cb.baseAddress!, scratch: sb.baseAddress!,
                                                 ffn: fb.baseAddress!, scores: scb.baseAddress!, total: total, starts: starts,
                                                 lengths: lengths, d: d, scale: scale)
                                }
                            }
                        }
                    }
                }
            }
        }

        // Mean pooling over each sequence's tokens, then L2 normalisation.
        return (0..<sequences.count).map { s in
            var pooled = [Float](repeating: 0, count: h)
            let n = lengths[s]
            guard n > 0 else { return pooled }
            for t in 0..<n {
                let base = (starts[s] + t) * h
                for i in 0..<h { pooled[i] += x[base + i] }
            }
            let inv = 1 / Float(n)
            for i in 0..<h { pooled[i] *= inv }
            Kernels.l2Normalize(&pooled)
            return pooled
        }
    }

    private func forwardLayer(_ layer: EncoderWeights.Layer, x: UnsafeMutablePointer<Float>, qkv: UnsafeMutablePointer<Float>,
                              context: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                              ffn: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>, total: Int,
                              starts: [Int], lengths: [Int], d: Int, scale: Float) {
        let h = weights.hidden, f = weights.intermediate
        // Q, K, V for all tokens in one product.
        Kernels.broadcastRows(layer.qkvBias, rows: total, width: 3 * h, into: qkv)
        Kernels.gemm(m: total, n: 3 * h, k: h, a: x, lda: h, b: layer.qkvWeight, ldb: h, c: qkv, ldc: 3 * h, transposeB: true, beta: 1)
        // Attention per sequence and head.
        for (s, n) in lengths.enumerated() where n > 0 {
            let base = qkv + starts[s] * 3 * h
            for head in 0..<weights.heads {
                let q = base + head * d, k = base + h + head * d, v = base + 2 * h + head * d
                Kernels.gemm(m: n, n: n, k: d, a: q, lda: 3 * h, b: k, ldb: 3 * h, c: scores, ldc: n, transposeB: true, alpha: scale)
                Kernels.softmaxRows(scores, rows: n, width: n)
                Kernels.gemm(m: n, n: d, k: n, a: scores, lda: n, b: v, ldb: 3 * h, c: context + starts[s] * h + head * d, ldc: h, transposeB: false)
            }
        }
        // Output projection, residual, LayerNorm.
        Kernels.broadcastRows(layer.outputBias, rows: total, width: h, into: scratch)
        Kernels.gemm(m: total, n: h, k: h, a: context, lda: h, b: layer.outputWeight, ldb: h, c: scratch, ldc: h, transposeB: true, beta: 1)
        Kernels.add(scratch, x, count: total * h)
        Kernels.layerNorm(scratch, rows: total, width: h, gamma: layer.attentionNormGamma, beta: layer.attentionNormBeta, eps: weights.layerNormEps)
        // Feed-forward with GELU, residual, LayerNorm.
        Kernels.broadcastRows(layer.intermediateBias, rows: total, width: f, into: ffn)
        Kernels.gemm(m: total, n: f, k: h, a: scratch, lda: h, b: layer.intermediateWeight, ldb: h, c: ffn, ldc: f, transposeB: true, beta: 1)
        Kernels.gelu(ffn, count: total * f)
        Kernels.broadcastRows(layer.ffnOutputBias, rows: total, width: h, into: x)
        Kernels.gemm(m: total, n: h, k: f, a: ffn, lda: f, b: layer.ffnOutputWeight, ldb: f, c: x, ldc: h, transposeB: true, beta: 1)
        Kernels.add(x, scratch, count: total * h)
        Kernels.layerNorm(x, rows: total, width: h, gamma: layer.outputNormGamma, beta: layer.outputNormBeta, eps: weights.layerNormEps)
    }
}
