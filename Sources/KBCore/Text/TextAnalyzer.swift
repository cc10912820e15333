import Foundation

/// A term found in text, with where it came from.
struct TextToken: Equatable {
    enum Kind: Equatable {
        /// A space-delimited word, folded (lower case, no diacritics, half width) and stemmed.
        case word
        /// One CJK character.
        case cjk
    }
    var kind: Kind
    /// The normalized term: a stem for words, the character itself for CJK.
    var term: String
    /// Range in Unicode scalars of the analysed text.
    var range: Range<Int>
}

/// Turns text into the terms kb indexes and searches with.
///
/// Space-delimited scripts become folded, Porter-stemmed words. CJK runs become characters, traditional ones
/// folded to simplified (``ChineseVariants``), indexed as unigrams and overlapping bigrams (see README, "Keyword
/// search for Chinese").
/// The same analysis runs on documents and queries, so both sides always agree.
public enum TextAnalyzer {
    /// Splits text into tokens. Offsets count Unicode scalars.
    static func tokenize(_ text: String) -> [TextToken] {
        tokenize(scalars: Array(text.unicodeScalars))
    }

    static func tokenize(scalars: [Unicode.Scalar]) -> [TextToken] {
        var tokens: [TextToken] = []
        tokens.reserveCapacity(scalars.count / 4)
        var i = 0
        let n = scalars.count
        while i < n {
            let scalar = scalars[i]
            if Script.isCJK(scalar.value) {
                tokens.append(TextToken(kind: .cjk, term: String(Character(ChineseVariants.fold(scalar))), range: i..<(i + 1)))
                i += 1
            } else if Script.isWordCharacter(scalar) {
                let start = i
                var ascii = true
                while i < n, Script.isWordCharacter(scalars[i]) {
                    if scalars[i].value >= 0x80 { ascii = false }
                    i += 1
                }
                let term = foldWord(scalars[start..<i], ascii: ascii)
                if !term.isEmpty {
                    tokens.append(TextToken(kind: .word, term: PorterStemmer.stem(term), range: start..<i))
                }
            } else {
                i += 1
            }
        }
        return tokens
    }

    /// Lower-cases, strips diacritics and folds full-width forms.
    static func foldWord(_ scalars: ArraySlice<Unicode.Scalar>, ascii: Bool) -> String {
        if ascii {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(scalars.count)
            for s in scalars {
                let v = UInt8(s.value)
                bytes.append(v >= 0x41 && v <= 0x5A ? v + 32 : v)
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        let folded = String(view).folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
        // Folding can produce characters that are no longer word characters (rare); keep letters and digits only.
        return String(String.UnicodeScalarView(folded.unicodeScalars.filter { Script.isWordCharacter($0) || Script.isCJK($0.value) }))
    }

    /// Written between the bigrams of two CJK runs in the bigram column.
    static let runSeparator = "\u{01C0}"

    /// A passage's keyword terms: stemmed words, CJK unigrams, CJK bigrams, each in text order.
    static func indexTerms(_ text: String) -> IndexTerms {
        let tokens = tokenize(text)
        var words: [String] = []
        var unigrams: [String] = []
        var bigrams: [String] = []
        var previousCJK: TextToken?
        for token in tokens {
            switch token.kind {
            case .word:
                words.append(token.term)
                previousCJK = nil
            case .cjk:
                unigrams.append(token.term)
                if let previous = previousCJK, previous.range.upperBound == token.range.lowerBound {
                    bigrams.append(previous.term + token.term)
                } else if !bigrams.isEmpty {
                    // A run boundary: a separator token (a letter no query produces) keeps phrase
                    // queries from matching across runs.
                    bigrams.append(runSeparator)
                }
                previousCJK = token
            }
        }
        return IndexTerms(words: words, cjk1: unigrams, cjk2: bigrams)
    }
}
