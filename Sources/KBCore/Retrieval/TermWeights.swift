import Foundation

/// Inverse document frequency of a query's terms in the knowledge base: rarer terms weigh more. Used by hybrid
/// fusion (is the best keyword hit about the question?), retrieval confidence, the extractive generator and the
/// answer check.
public enum TermWeights {
    /// BM25's IDF, log(1 + (N − n + 0.5) / (n + 0.5)), for each of the query's search terms. A CJK bigram that no
    /// passage contains although both its characters occur counts a third (a likely segmentation artefact).
    public static func compute(_ query: AnalyzedQuery, index: any KeywordIndex) async throws(KBError) -> [String: Double] {
        let terms = query.searchTerms
        let characters = terms.filter(isBigram).flatMap { $0.map(String.init) }
        let statistics = try await index.termStatistics((terms + characters).map(term))
        var frequencies: [String: Int] = [:]
        for (term, count) in statistics.documentFrequencies { frequencies[term.text, default: 0] += count }
        let total = Double(max(1, statistics.passages))
        func idf(_ df: Int) -> Double { log(1 + (total - Double(df) + 0.5) / (Double(df) + 0.5)) }
        var weights: [String: Double] = [:]
        for term in terms {
            let df = frequencies[term] ?? 0
            var weight = idf(df)
            if df == 0, isBigram(term), term.allSatisfy({ (frequencies[String($0)] ?? 0) > 0 }) { weight /= 3 }
            weights[term] = weight
        }
        return weights
    }

    private static func isBigram(_ term: String) -> Bool {
        term.unicodeScalars.count == 2 && term.unicodeScalars.allSatisfy { Script.isCJK($0.value) }
    }

    /// The field a search term is indexed in: one CJK character, a CJK bigram, or a word.
    static func term(_ text: String) -> KeywordQuery.Term {
        let scalars = text.unicodeScalars
        if scalars.allSatisfy({ Script.isCJK($0.value) }) {
            if scalars.count == 1 { return KeywordQuery.Term(.cjk1, text) }
            if scalars.count == 2 { return KeywordQuery.Term(.cjk2, text) }
        }
        return KeywordQuery.Term(.words, text)
    }
}
