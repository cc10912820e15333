import Foundation

/// BM25 keyword retrieval through the store's keyword index (see README, "Keyword search for Chinese").
public struct KeywordRetriever: Retriever {
    public let mode = "keyword"
    let index: any KeywordIndex
    let store: any DocumentStore

    public init(index: any KeywordIndex, store: any DocumentStore) {
        self.index = index
        self.store = store
    }

    /// Chunk ids and BM25 scores, best first.
    func rankedChunks(_ query: AnalyzedQuery, limit: Int) async throws(KBError) -> [ScoredChunk] {
        let keywords = KeywordQuery(query)
        guard !keywords.isEmpty, limit > 0 else { return [] }
        return try await index.keywordSearch(keywords, limit: limit)
    }

    public func retrieve(_ query: AnalyzedQuery, limit: Int) async throws(KBError) -> Retrieval {
        Retrieval(passages: try await passages(query, limit: limit))
    }

    func passages(_ query: AnalyzedQuery, limit: Int) async throws(KBError) -> [RetrievedPassage] {
        let hits = try await rankedChunks(query, limit: limit)
        guard !hits.isEmpty else { return [] }
        let passages = try await store.passages(ids: hits.map(\.chunkID))
        let matcher = TermMatcher(query)
        var scores: [Int: Double] = [:]
        for hit in hits { scores[hit.chunkID] = hit.score }
        return passages.enumerated().map { offset, passage in
            matcher.retrieved(passage, rank: offset + 1, score: scores[passage.chunkID] ?? 0,
                              explanation: RetrievalExplanation(keywordRank: offset + 1, keywordScore: scores[passage.chunkID]))
        }
    }
}

/// Finds a query's terms in text: for highlighting, explanations and answer-sentence selection.
///
/// It finds what ``TextAnalyzer/tokenize(scalars:)`` followed by a lookup of each token would find, without
/// tokenising: a word is folded and stemmed only when its first letter is the first letter of a query stem
/// (Porter stemming never changes a word's first letter, and ASCII folding only lower-cases it), and CJK
/// characters are compared as scalars. Every returned passage is matched on each search, so this is the hot
/// loop of keyword search.
struct TermMatcher {
    private let stems: Set<String>
    private let unigrams: Set<String>
    private let bigrams: Set<String>
    /// Lower-cased first bytes of the ASCII stems; a non-ASCII stem disables the filter (`filtersWords` false).
    private let firstBytes: [Bool]
    private let filtersWords: Bool
    private let unigramScalars: Set<UInt32>
    private let bigramPairs: Set<UInt64>

    init(_ query: AnalyzedQuery) {
        var stems = Set<String>(), unigrams = Set<String>(), bigrams = Set<String>()
        for concept in query.searchConcepts {
            switch concept.kind {
            case .word: stems.formUnion(concept.terms)
            case .cjk:
                if concept.surface.count == 1 { unigrams.formUnion(concept.terms) } else { bigrams.formUnion(concept.terms) }
            }
        }
        self.stems = stems
        self.unigrams = unigrams
        self.bigrams = bigrams
        var firstBytes = [Bool](repeating: false, count: 128)
        var filtersWords = true
        for stem in stems {
            guard let first = stem.utf8.first, first < 0x80 else { filtersWords = false; continue }
            firstBytes[Int(first)] = true
        }
        self.firstBytes = firstBytes
        self.filtersWords = filtersWords
        unigramScalars = Set(unigrams.compactMap { term in
            let scalars = Array(term.unicodeScalars)
            return scalars.count == 1 ? scalars[0].value : nil
        })
        bigramPairs = Set(bigrams.compactMap { term in
            let scalars = Array(term.unicodeScalars)
            return scalars.count == 2 ? UInt64(scalars[0].value) << 32 | UInt64(scalars[1].value) : nil
        })
    }

    /// Matched spans (Unicode scalar ranges, merged) and the terms matched, in text order.
    func matches(in scalars: [Unicode.Scalar]) -> (spans: [Range<Int>], terms: [String]) {
        var spans: [Range<Int>] = []
        var terms: [String] = []
        func add(_ range: Range<Int>, _ term: String) {
            terms.append(term)
            if let last = spans.last, last.upperBound >= range.lowerBound {
                spans[spans.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                spans.append(range)
            }
        }
        let wantsWords = !stems.isEmpty
        let wantsCJK = !unigramScalars.isEmpty || !bigramPairs.isEmpty
        let n = scalars.count
        var i = 0
        while i < n {
            let scalar = scalars[i]
            if Script.isCJK(scalar.value) {
                if wantsCJK {
                    // Compared folded (simplified), as the analysis indexes them; the term is reported folded too.
                    let value = ChineseVariants.fold(scalar.value)
                    if unigramScalars.contains(value) { add(i..<(i + 1), String(Character(ChineseVariants.fold(scalar)))) }
                    if i + 1 < n, Script.isCJK(scalars[i + 1].value) {
                        let next = ChineseVariants.fold(scalars[i + 1].value)
                        if bigramPairs.contains(UInt64(value) << 32 | UInt64(next)) {
                            add(i..<(i + 2), String(Character(ChineseVariants.fold(scalar))) + String(Character(ChineseVariants.fold(scalars[i + 1]))))
                        }
                    }
                }
                i += 1
            } else if Script.isWordCharacter(scalar) {
                let start = i
                var ascii = true
                while i < n, Script.isWordCharacter(scalars[i]) {
                    if scalars[i].value >= 0x80 { ascii = false }
                    i += 1
                }
                guard wantsWords else { continue }
                if ascii && filtersWords {
                    var first = scalar.value
                    if first >= 0x41 && first <= 0x5A { first += 32 }
                    if !firstBytes[Int(first)] { continue }
                }
                let folded = TextAnalyzer.foldWord(scalars[start..<i], ascii: ascii)
                guard !folded.isEmpty else { continue }
                let stem = Self.stem(folded)
                if stems.contains(stem) { add(start..<i, stem) }
            } else {
                i += 1
            }
        }
        return (spans, terms)
    }

    /// A retrieved passage with the query's terms matched once: the distinct terms of its heading and text (as
    /// ``matchedTerms(in:)`` of both), and the spans in its text for the snippet.
    func retrieved(_ passage: Passage, rank: Int, score: Double, explanation: RetrievalExplanation?) -> RetrievedPassage {
        let heading = passage.heading.isEmpty ? [] : matches(in: Array(passage.heading.unicodeScalars)).terms
        let text = matches(in: Array(passage.text.unicodeScalars))
        var seen = Set<String>()
        var retrieved = RetrievedPassage(passage: passage, rank: rank, score: score,
                                         matchedTerms: (heading + text.terms).filter { seen.insert($0).inserted }, explanation: explanation)
        retrieved.textSpans = text.spans
        return retrieved
    }

    /// The stem of a folded word, from a cache shared by every search (passages repeat the same words).
    static func stem(_ folded: String) -> String {
        stemCache.stem(folded)
    }
    static let stemCache = StemCache()

    /// Distinct matched terms, in first-occurrence order.
    func matchedTerms(in text: String) -> [String] {
        var seen = Set<String>()
        return matches(in: Array(text.unicodeScalars)).terms.filter { seen.insert($0).inserted }
    }
}

/// Cuts a window of text around the best cluster of matches.
enum SnippetBuilder {
    /// A snippet of at most about `width` Unicode scalars and the highlighted spans inside it.
    /// `spans`: the matches in `text` when already known (``RetrievedPassage/textSpans``).
    static func snippet(_ text: String, matcher: TermMatcher, spans known: [Range<Int>]? = nil,
                        width: Int = 240) -> (text: String, highlights: [[Int]]) {
        let scalars = Array(text.unicodeScalars)
        let spans = known ?? matcher.matches(in: scalars).spans
        guard scalars.count > width else {
            return (collapseNewlines(scalars, 0..<scalars.count).text, shift(spans, in: scalars, window: 0..<scalars.count))
        }
        // Choose the window start that covers the most matched spans.
        var bestStart = 0
        var bestCount = -1
        for (i, span) in spans.enumerated() {
            let start = max(0, span.lowerBound - width / 4)
            let count = spans[i...].prefix { $0.upperBound <= start + width }.count
            if count > bestCount { bestCount = count; bestStart = start }
        }
        var lower = min(bestStart, max(0, scalars.count - width))
        var upper = min(scalars.count, lower + width)
        // Do not cut Latin words in half.
        while lower > 0, lower > bestStart - 20, Script.isWordCharacter(scalars[lower - 1]), Script.isWordCharacter(scalars[lower]) { lower -= 1 }
        while upper < scalars.count, upper < lower + width + 20, Script.isWordCharacter(scalars[upper - 1]), Script.isWordCharacter(scalars[upper]) { upper += 1 }
        let window = lower..<upper
        let body = collapseNewlines(scalars, window)
        let prefix = lower > 0 ? "…" : ""
        let suffix = upper < scalars.count ? "…" : ""
        let highlights = shift(spans, in: scalars, window: window).map { [$0[0] + prefix.unicodeScalars.count, $0[1] + prefix.unicodeScalars.count] }
        return (prefix + body.text + suffix, highlights)
    }

    /// Replaces newlines with spaces (offsets unchanged).
    private static func collapseNewlines(_ scalars: [Unicode.Scalar], _ range: Range<Int>) -> (text: String, count: Int) {
        var view = String.UnicodeScalarView()
        for i in range { view.append(scalars[i] == "\n" || scalars[i] == "\t" ? " " : scalars[i]) }
        return (String(view), range.count)
    }

    private static func shift(_ spans: [Range<Int>], in scalars: [Unicode.Scalar], window: Range<Int>) -> [[Int]] {
        spans.compactMap { span in
            let lower = max(span.lowerBound, window.lowerBound)
            let upper = min(span.upperBound, window.upperBound)
            return lower < upper ? [lower - window.lowerBound, upper - window.lowerBound] : nil
        }
    }
}

/// Porter stems of folded words, memoised: sixteen locked shards of at most 8,192 words (a few MiB in all), each
/// emptied when it is full.
final class StemCache: @unchecked Sendable {
    private var tables: [[String: String]]
    private let locks: [NSLock]
    private let capacity: Int

    init(capacity: Int = 8_192) {
        self.capacity = capacity
        tables = Array(repeating: [:], count: 16)
        locks = (0..<16).map { _ in NSLock() }
    }

    func stem(_ word: String) -> String {
        let shard = (Int(word.utf8.first ?? 0) &+ word.utf8.count) & 15
        locks[shard].lock()
        if let known = tables[shard][word] { locks[shard].unlock(); return known }
        locks[shard].unlock()
        let stem = PorterStemmer.stem(word)
        locks[shard].lock()
        if tables[shard].count >= capacity { tables[shard].removeAll(keepingCapacity: true) }
        tables[shard][word] = stem
        locks[shard].unlock()
        return stem
    }
}
