import Foundation

/// kb's keyword engine: an in-memory inverted index over the analysed terms of every chunk, ranked with BM25
/// (k1 = 1.2, b = 0.75, IDF log((N − n + 0.5) / (n + 0.5)) floored at 10⁻⁶, a field's weight multiplying its term
/// frequency, the passage length counting every field) — the formula of SQLite FTS5's `bm25()`, so rankings agree
/// with it, at a fraction of its cost: term-at-a-time scoring into a dense accumulator, then a bounded heap.
///
/// Phrases (consecutive CJK bigrams) are matched against each candidate's bigram sequence. Removing a chunk marks
/// its slot; the postings are compacted once a quarter of the slots are dead. Not thread-safe: its owner
/// (``SearchIndexes``) serialises writers against readers.
struct BM25Index: Sendable {
    static let k1 = 1.2
    static let b = 0.75

    private struct Posting { var slot: Int32; var frequency: Int32 }

    private var dictionaries: [[String: Int32]] = Array(repeating: [:], count: KeywordQuery.Field.allCases.count)
    private var postings: [[Posting]] = []
    private var documentFrequency: [Int32] = []
    /// Chunk id of each slot; -1 for a removed chunk.
    private var chunkIDs: [Int] = []
    private var slotOf: [Int: Int32] = [:]
    private var lengths: [Int32] = []
    /// Distinct term ids of each slot (to undo its document frequencies on removal).
    private var slotTerms: [[Int32]] = []
    /// Bigram term ids of each slot in text order (empty for chunks without CJK): for phrases.
    private var bigramSequences: [[Int32]] = []
    private var totalLength = 0
    private var dead = 0

    /// Chunks in the index.
    var count: Int { slotOf.count }

    /// True when the chunk is indexed.
    func contains(_ chunkID: Int) -> Bool { slotOf[chunkID] != nil }

    /// Adds a chunk (replacing it when present).
    mutating func add(chunkID: Int, terms: IndexTerms) {
        if slotOf[chunkID] != nil { remove(chunkID: chunkID) }
        let slot = Int32(chunkIDs.count)
        var frequencies: [Int32: Int32] = [:]
        var sequence: [Int32] = []
        for field in KeywordQuery.Field.allCases {
            let fieldTerms = terms[field]
            if field == .cjk2 { sequence.reserveCapacity(fieldTerms.count) }
            for term in fieldTerms {
                let id = termID(term, field: field)
                frequencies[id, default: 0] += 1
                if field == .cjk2 { sequence.append(id) }
            }
        }
        var distinct: [Int32] = []
        distinct.reserveCapacity(frequencies.count)
        for (id, frequency) in frequencies {
            postings[Int(id)].append(Posting(slot: slot, frequency: frequency))
            documentFrequency[Int(id)] += 1
            distinct.append(id)
        }
        chunkIDs.append(chunkID)
        slotOf[chunkID] = slot
        lengths.append(Int32(terms.length))
        slotTerms.append(distinct)
        bigramSequences.append(sequence)
        totalLength += terms.length
    }

    /// Removes a chunk; a no-op when it is not indexed.
    mutating func remove(chunkID: Int) {
        guard let slot = slotOf.removeValue(forKey: chunkID) else { return }
        let index = Int(slot)
        for id in slotTerms[index] { documentFrequency[Int(id)] -= 1 }
        slotTerms[index] = []
        bigramSequences[index] = []
        totalLength -= Int(lengths[index])
        chunkIDs[index] = -1
        dead += 1
        if dead > 1024 && dead * 4 > chunkIDs.count { compact() }
    }

    private mutating func termID(_ term: String, field: KeywordQuery.Field) -> Int32 {
        if let id = dictionaries[field.rawValue][term] { return id }
        let id = Int32(postings.count)
        dictionaries[field.rawValue][term] = id
        postings.append([])
        documentFrequency.append(0)
        return id
    }

    /// Drops removed slots from every posting list and renumbers the rest.
    private mutating func compact() {
        var newSlot = [Int32](repeating: -1, count: chunkIDs.count)
        var next: Int32 = 0
        for (slot, id) in chunkIDs.enumerated() where id >= 0 { newSlot[slot] = next; next += 1 }
        for t in postings.indices {
            postings[t] = postings[t].compactMap { posting in
                let renumbered = newSlot[Int(posting.slot)]
                return renumbered >= 0 ? Posting(slot: renumbered, frequency: posting.frequency) : nil
            }
        }
        let keep = chunkIDs.indices.filter { chunkIDs[$0] >= 0 }
        chunkIDs = keep.map { chunkIDs[$0] }
        lengths = keep.map { lengths[$0] }
        slotTerms = keep.map { slotTerms[$0] }
        bigramSequences = keep.map { bigramSequences[$0] }
        slotOf = Dictionary(uniqueKeysWithValues: chunkIDs.enumerated().map { ($0.element, Int32($0.offset)) })
        dead = 0
    }

    /// Number of chunks containing each term.
    func documentFrequencies(_ terms: [KeywordQuery.Term]) -> [KeywordQuery.Term: Int] {
        var out: [KeywordQuery.Term: Int] = [:]
        for term in terms {
            out[term] = dictionaries[term.field.rawValue][term.text].map { Int(documentFrequency[Int($0)]) } ?? 0
        }
        return out
    }

    /// The best `limit` chunks for the query, best first (ties by chunk id).
    func search(_ query: KeywordQuery, limit: Int) -> [ScoredChunk] {
        let n = Double(count)
        guard limit > 0, n > 0, !query.isEmpty else { return [] }
        let averageLength = Double(max(1, totalLength)) / n
        var scores = [Double](repeating: 0, count: chunkIDs.count)
        var touched: [Int32] = []
        func idf(_ hits: Int) -> Double {
            let value = log((n - Double(hits) + 0.5) / (Double(hits) + 0.5))
            return value > 0 ? value : 1e-6
        }
        let lengthShare = Self.k1 * Self.b / averageLength, lengthBase = Self.k1 * (1 - Self.b)
        func accumulate(_ slot: Int, frequency: Double, idf: Double) {
            if scores[slot] == 0 { touched.append(Int32(slot)) }
            scores[slot] += idf * (frequency * (Self.k1 + 1)) / (frequency + lengthBase + lengthShare * Double(lengths[slot]))
        }
        for clause in query.clauses {
            let ids = clause.map { dictionaries[$0.field.rawValue][$0.text] }
            if ids.contains(where: { $0 == nil }) { continue }   // a term no chunk has: the clause matches nothing
            let termIDs = ids.map { Int($0!) }
            let weight = clause[0].field.weight
            if termIDs.count == 1 {
                let list = postings[termIDs[0]]
                let weightIDF = idf(Int(documentFrequency[termIDs[0]]))
                for posting in list where chunkIDs[Int(posting.slot)] >= 0 {
                    accumulate(Int(posting.slot), frequency: weight * Double(posting.frequency), idf: weightIDF)
                }
            } else {
                // A phrase: candidates from the rarest term's postings, counted in each candidate's sequence.
                let rarest = termIDs.min { documentFrequency[$0] < documentFrequency[$1] }!
                let phrase = termIDs.map(Int32.init)
                var matches: [(slot: Int, count: Int)] = []
                for posting in postings[rarest] where chunkIDs[Int(posting.slot)] >= 0 {
                    let found = Self.occurrences(of: phrase, in: bigramSequences[Int(posting.slot)])
                    if found > 0 { matches.append((Int(posting.slot), found)) }
                }
                let phraseIDF = idf(matches.count)
                for match in matches { accumulate(match.slot, frequency: weight * Double(match.count), idf: phraseIDF) }
            }
        }
        var heap = ScoredTopK<Double>(capacity: min(limit, touched.count))
        for slot in touched { heap.offer(scores[Int(slot)], Int(slot)) }
        // Best first, ties by chunk id.
        return heap.sorted().map { ScoredChunk(chunkID: chunkIDs[$0.row], score: $0.score) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : $0.chunkID < $1.chunkID }
    }

    static func occurrences(of phrase: [Int32], in sequence: [Int32]) -> Int {
        guard phrase.count <= sequence.count else { return 0 }
        var found = 0
        var i = 0
        let last = sequence.count - phrase.count
        while i <= last {
            if sequence[i] == phrase[0] {
                var j = 1
                while j < phrase.count && sequence[i + j] == phrase[j] { j += 1 }
                if j == phrase.count { found += 1 }
            }
            i += 1
        }
        return found
    }
}
