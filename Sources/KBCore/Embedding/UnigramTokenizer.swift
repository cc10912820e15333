/// A SentencePiece-unigram tokenizer (XLM-R vocabulary): per-code-point normalisation from a table,
/// spaces as `▁`, then the most probable segmentation (Viterbi over piece log-probabilities).
///
/// Pieces are looked up by the bytes of their UTF-8 form (a 64-bit FNV-1a hash extended one byte at
/// a time, then confirmed byte by byte), never as Swift `String`s: several distinct pieces are
/// canonically equivalent and would collide as strings.
struct UnigramTokenizer: Sendable {
    let blob: [UInt8]
    let offsets: [UInt32]
    let scores: [Float]
    let normalization: [UInt32: [UInt32]]
    let bos: Int32, eos: Int32, unk: Int32
    private let byHash: [UInt64: Int32]
    private let collisions: [UInt64: [Int32]]
    private let unknownScore: Float
    private let maxPieceBytes: Int

    init(blob: [UInt8], offsets: [UInt32], scores: [Float], normalization: [UInt32: [UInt32]], bos: Int32, eos: Int32, unk: Int32) {
        self.blob = blob
        self.offsets = offsets
        self.scores = scores
        self.normalization = normalization
        self.bos = bos
        self.eos = eos
        self.unk = unk
        var byHash: [UInt64: Int32] = [:]
        var collisions: [UInt64: [Int32]] = [:]
        byHash.reserveCapacity(scores.count)
        var longest = 0
        for id in 0..<scores.count where Int32(id) != unk {
            let start = Int(offsets[id]), end = Int(offsets[id + 1])
            longest = max(longest, end - start)
            var hash = Self.fnvOffset
            for i in start..<end { hash = Self.fnv(hash, blob[i]) }
            if byHash[hash] == nil { byHash[hash] = Int32(id) } else { collisions[hash, default: []].append(Int32(id)) }
        }
        self.byHash = byHash
        self.collisions = collisions
        self.maxPieceBytes = longest
        self.unknownScore = (scores.min() ?? 0) - 10
    }

    static let fnvOffset: UInt64 = 0xcbf29ce484222325
    @inline(__always) static func fnv(_ hash: UInt64, _ byte: UInt8) -> UInt64 { (hash ^ UInt64(byte)) &* 0x100000001b3 }

    /// Normalises: table mapping per code point, runs of spaces collapsed, a leading space, spaces as ▁.
    func normalize(_ text: String) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.unicodeScalars.count + 1)
        func push(_ value: UInt32) {
            if value == 0x20, out.last == "\u{2581}" { return }
            out.append(value == 0x20 ? "\u{2581}" : Unicode.Scalar(value) ?? "\u{FFFD}")
        }
        for scalar in text.unicodeScalars {
            if let replacement = normalization[scalar.value] { replacement.forEach(push) } else { push(scalar.value) }
        }
        if out.first != "\u{2581}" { out.insert("\u{2581}", at: 0) }
        return out
    }

    /// Piece ids of normalised text (no special tokens).
    func segment(_ scalars: [Unicode.Scalar]) -> [Int32] {
        // UTF-8 bytes and the byte offset of each code point.
        var bytes: [UInt8] = []
        var starts: [Int] = []
        bytes.reserveCapacity(scalars.count * 3)
        for scalar in scalars {
            starts.append(bytes.count)
            bytes.append(contentsOf: String(Character(scalar)).utf8)
        }
        starts.append(bytes.count)
        let n = scalars.count
        var best = [Float](repeating: -.infinity, count: n + 1)
        var back = [(from: Int, id: Int32)](repeating: (0, 0), count: n + 1)
        best[0] = 0
        for i in 0..<n where best[i] > -.infinity {
            var hash = Self.fnvOffset
            var e = i
            var byte = starts[i]
            while e < n {
                let end = starts[e + 1]
                if end - starts[i] > maxPieceBytes { break }
                while byte < end { hash = Self.fnv(hash, bytes[byte]); byte += 1 }
                e += 1
                if let id = lookup(hash, bytes, starts[i]..<end) {
                    let candidate = best[i] + scores[Int(id)]
                    if candidate > best[e] { best[e] = candidate; back[e] = (i, id) }
                }
            }
            let candidate = best[i] + unknownScore
            if candidate > best[i + 1] { best[i + 1] = candidate; back[i + 1] = (i, unk) }
        }
        var ids: [Int32] = []
        var position = n
        while position > 0 { ids.append(back[position].id); position = back[position].from }
        return ids.reversed()
    }

    private func lookup(_ hash: UInt64, _ bytes: [UInt8], _ range: Range<Int>) -> Int32? {
        func matches(_ id: Int32) -> Bool {
            let start = Int(offsets[Int(id)]), end = Int(offsets[Int(id) + 1])
            guard end - start == range.count else { return false }
            var j = range.lowerBound
            for i in start..<end { if blob[i] != bytes[j] { return false }; j += 1 }
            return true
        }
        guard let id = byHash[hash] else { return nil }
        if matches(id) { return id }
        return collisions[hash]?.first(where: matches)
    }
}

extension UnigramTokenizer: EncoderTokenizer {
    var unknownID: Int32 { unk }

    func encode(_ text: String, maxTokens: Int) -> (ids: [Int32], truncated: Bool) {
        let pieces = segment(normalize(text))
        let budget = maxTokens - 2
        let truncated = pieces.count > budget
        return ([bos] + pieces.prefix(budget) + [eos], truncated)
    }
}
