import Foundation

/// A question or search query after input understanding: normalised, its language detected,
/// and broken into the concepts kb searches for.
public struct AnalyzedQuery: Sendable, Equatable {
    /// A unit of meaning in the query: an English word, or a run of CJK characters.
    struct Concept: Sendable, Equatable {
        enum Kind: Sendable { case word, cjk }
        var kind: Kind
        /// What the user typed.
        var surface: String
        /// Index terms: the stem for a word; the character (one-character runs) or the bigrams of a CJK run.
        var terms: [String]
        /// A stop word ("the", "什么"): searched only when the query has nothing else.
        var isStopword: Bool
    }

    /// The query as given.
    public var original: String
    /// NFC, collapsed white space, trimmed.
    public var normalized: String
    /// "zh", "en", "ja", "ko" or "und", from the scripts used.
    public var language: String
    var concepts: [Concept]

    /// Concepts that carry meaning (stop words dropped unless nothing else is left).
    var searchConcepts: [Concept] {
        let content = concepts.filter { !$0.isStopword }
        return content.isEmpty ? concepts : content
    }

    /// All index terms of the search concepts.
    var searchTerms: [String] { searchConcepts.flatMap(\.terms) }
}

/// Input understanding for queries: normalisation, language detection and term analysis.
///
/// English words are folded and stemmed as in the index. A CJK run of one character is searched
/// as that character; longer runs as their bigrams, plus the whole run as a phrase when it has
/// three or more characters so exact matches of the longer string rank first.
public enum QueryAnalyzer {
    /// Analyses a query. Throws ``KBError/Code/invalidArgument`` when it is empty.
    public static func analyze(_ query: String) throws(KBError) -> AnalyzedQuery {
        let normalized = TextDecoder.normalize(query)
            .split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        guard !normalized.isEmpty else { throw KBError.emptyQuery() }
        let scalars = Array(normalized.unicodeScalars)
        let tokens = TextAnalyzer.tokenize(scalars: scalars)
        var concepts: [AnalyzedQuery.Concept] = []
        var seen = Set<[String]>()
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            if token.kind == .word {
                let surface = String(String.UnicodeScalarView(scalars[token.range])).lowercased()
                let concept = AnalyzedQuery.Concept(kind: .word, surface: surface, terms: [token.term],
                                                    isStopword: Stopwords.english.contains(surface))
                if seen.insert(concept.terms).inserted { concepts.append(concept) }
                index += 1
                continue
            }
            var run = [token]
            index += 1
            while index < tokens.count, tokens[index].kind == .cjk, tokens[index].range.lowerBound == run.last!.range.upperBound {
                run.append(tokens[index]); index += 1
            }
            for concept in cjkConcepts(run.map(\.term)) where seen.insert(concept.terms).inserted {
                concepts.append(concept)
            }
        }
        return AnalyzedQuery(original: query, normalized: normalized, language: Script.detectLanguage(normalized),
                             concepts: Array(concepts.prefix(64)))
    }

    /// Splits a CJK run at stop words (什么, 如何 …), trims particles (的, 是, 吗 …) from the ends
    /// of pieces longer than two characters, and makes a concept of each piece. Particles inside a
    /// piece stay, and two-character pieces are kept whole: most particles are also parts of words
    /// (目的, 但是, 现在).
    static func cjkConcepts(_ characters: [String]) -> [AnalyzedQuery.Concept] {
        var pieces: [[String]] = []
        var current: [String] = []
        var i = 0
        while i < characters.count {
            if i + 1 < characters.count, Stopwords.chineseWords.contains(characters[i] + characters[i + 1]) {
                if !current.isEmpty { pieces.append(current); current = [] }
                i += 2
                continue
            }
            current.append(characters[i])
            i += 1
        }
        if !current.isEmpty { pieces.append(current) }
        pieces = pieces.map { piece in
            var piece = piece[...]
            while piece.count > 2, let first = piece.first, Stopwords.chineseCharacters.contains(first) { piece.removeFirst() }
            while piece.count > 2, let last = piece.last, Stopwords.chineseCharacters.contains(last) { piece.removeLast() }
            if piece.count <= 2, piece.allSatisfy(Stopwords.chineseCharacters.contains) { return [] }
            return Array(piece)
        }.filter { !$0.isEmpty }
        if pieces.isEmpty {
            // Nothing but stop words: keep the run itself.
            return [concept(characters, isStopword: true)]
        }
        return pieces.map { concept($0, isStopword: false) }
    }

    private static func concept(_ characters: [String], isStopword: Bool) -> AnalyzedQuery.Concept {
        let terms = characters.count == 1 ? characters : (0..<(characters.count - 1)).map { characters[$0] + characters[$0 + 1] }
        return AnalyzedQuery.Concept(kind: .cjk, surface: characters.joined(), terms: terms, isStopword: isStopword)
    }
}

/// Stop words: searched only when a query has nothing else.
enum Stopwords {
    static let english: Set<String> = [
        "a", "about", "above", "after", "again", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because",
        "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing",
        "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here",
        "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most",
        "my", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out", "over",
        "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "then",
        "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we",
        "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your",
        "yours", "tell", "please", "use", "using", "way", "get", "also", "may", "might", "must", "shall", "one",
    ]
    static let chineseWords: Set<String> = [
        "什么", "怎么", "怎样", "如何", "为何", "一个", "一些", "一個", "哪些", "哪里", "哪个", "多少", "是否", "可以", "能否", "请问", "一下",
        "我们", "你们", "他们", "这个", "那个", "这些", "那些", "为什", "甚么", "怎麼", "什麼", "哪裡", "這個", "這些",
        "那麼", "是不", "有没", "没有", "吗？",
    ]
    /// Particles and pronouns trimmed from the ends of CJK query pieces.
    static let chineseCharacters: Set<String> = [
        "的", "了", "是", "在", "吗", "呢", "吧", "啊", "么", "和", "与", "及", "或", "把", "被", "请", "我", "你",
        "他", "她", "它", "们", "着", "过", "谁", "哪", "这", "那", "嗎", "麼", "呀", "哦", "嘛", "與", "請", "們",
        "過", "誰", "這",
    ]
}
