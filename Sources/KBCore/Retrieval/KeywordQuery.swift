/// A keyword search as kb's analysis sees it: terms in the field they are indexed in, and phrases of
/// consecutive CJK bigrams. Stores rank it with BM25 in their own way (an in-memory index for SQLite);
/// no store's query syntax appears above the store.
public struct KeywordQuery: Sendable, Equatable {
    /// Where a term is indexed (see ``IndexTerms``).
    public enum Field: Int, Sendable, CaseIterable {
        /// Folded, stemmed words of space-delimited scripts.
        case words
        /// Single CJK characters.
        case cjk1
        /// Overlapping CJK bigrams.
        case cjk2

        /// BM25 weight of a match in this field: single characters count less than words and bigrams.
        public var weight: Double { self == .cjk1 ? 0.4 : 1.0 }
    }

    /// A term in one field.
    public struct Term: Sendable, Equatable, Hashable {
        public var field: Field
        public var text: String
        public init(_ field: Field, _ text: String) { self.field = field; self.text = text }
    }

    /// Scored clauses, in query order: single terms, and phrases (consecutive bigrams of a CJK run of three or
    /// more characters, so that an exact match of the longer string ranks first). A clause may repeat.
    public var clauses: [[Term]]

    public init(clauses: [[Term]]) { self.clauses = clauses.filter { !$0.isEmpty } }

    /// True when there is nothing to search for.
    public var isEmpty: Bool { clauses.isEmpty }

    /// The query's single terms (each clause's terms), without repeats.
    public var terms: [Term] {
        var seen = Set<Term>()
        return clauses.flatMap { $0 }.filter { seen.insert($0).inserted }
    }

    /// The keyword query for an analysed question: each word in `words`; a one-character CJK run in `cjk1`; a
    /// longer run as its bigrams in `cjk2`, plus the phrase of all its bigrams when it has three or more characters.
    public init(_ query: AnalyzedQuery) {
        var clauses: [[Term]] = []
        for concept in query.searchConcepts {
            switch concept.kind {
            case .word:
                clauses.append([Term(.words, concept.terms[0])])
            case .cjk:
                if concept.terms.count == 1 && concept.surface.count == 1 {
                    clauses.append([Term(.cjk1, concept.terms[0])])
                } else {
                    for term in Set(concept.terms).sorted() { clauses.append([Term(.cjk2, term)]) }
                    if concept.terms.count >= 2 { clauses.append(concept.terms.map { Term(.cjk2, $0) }) }
                }
            }
        }
        self.init(clauses: clauses)
    }
}

/// A chunk's analysed terms, in text order, per field: what a keyword index stores (``TextAnalyzer``).
public struct IndexTerms: Sendable, Equatable {
    public var words: [String]
    public var cjk1: [String]
    /// Bigrams, with ``TextAnalyzer/runSeparator`` between two CJK runs so phrases never match across them.
    public var cjk2: [String]

    public init(words: [String], cjk1: [String], cjk2: [String]) {
        self.words = words
        self.cjk1 = cjk1
        self.cjk2 = cjk2
    }

    /// The terms of a field.
    public subscript(field: KeywordQuery.Field) -> [String] {
        switch field {
        case .words: return words
        case .cjk1: return cjk1
        case .cjk2: return cjk2
        }
    }

    /// Every token counts toward the passage's length, as in BM25.
    public var length: Int { words.count + cjk1.count + cjk2.count }
}

/// A chunk id with its score, higher is better.
public struct ScoredChunk: Sendable, Equatable {
    public var chunkID: Int
    public var score: Double
    public init(chunkID: Int, score: Double) { self.chunkID = chunkID; self.score = score }
}

/// What a keyword index knows about terms: how many passages it holds and how many contain each term.
public struct TermStatistics: Sendable, Equatable {
    public var passages: Int
    public var documentFrequencies: [KeywordQuery.Term: Int]
    public init(passages: Int, documentFrequencies: [KeywordQuery.Term: Int]) {
        self.passages = passages
        self.documentFrequencies = documentFrequencies
    }
}
