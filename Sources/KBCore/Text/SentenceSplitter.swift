/// Splits text into sentences, for Chinese and Latin-script punctuation alike.
///
/// Boundaries: after `。！？；` (and full-width `！？`) anywhere, and after `.`, `!`, `?` when
/// followed by white space or the end — not after common abbreviations ("e.g.", "Dr.") or
/// single-letter initials. Closing quotes and brackets stay with their sentence.
public enum SentenceSplitter {
    private static let cjkTerminators: Set<UInt32> = [0x3002, 0xFF01, 0xFF1F, 0xFF1B, 0xFF0E]
    private static let latinTerminators: Set<UInt32> = [0x2E, 0x21, 0x3F]
    private static let closers: Set<UInt32> = [
        0x22, 0x27, 0x29, 0x5D, 0x7D, 0x201D, 0x2019, 0x300D, 0x300F, 0xFF09, 0x3011, 0x3015, 0x300B, 0x3009,
    ]
    private static let abbreviations: Set<String> = [
        "e.g", "i.e", "etc", "dr", "mr", "mrs", "ms", "prof", "vs", "fig", "figs", "st", "inc", "ltd",
        "jr", "sr", "cf", "al", "approx", "dept", "est", "vol", "eq", "eqs", "ref", "refs", "sec", "ch", "pp",
    ]

    /// Sentence ranges (Unicode scalar offsets, trimmed of white space) within `range` of `scalars`.
    public static func split(_ scalars: [Unicode.Scalar], in range: Range<Int>) -> [Range<Int>] {
        var sentences: [Range<Int>] = []
        var start = range.lowerBound
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let v = scalars[i].value
            var boundary = false
            if cjkTerminators.contains(v) {
                boundary = true
            } else if latinTerminators.contains(v) {
                var j = i + 1
                while j < end, latinTerminators.contains(scalars[j].value) || closers.contains(scalars[j].value) { j += 1 }
                if j == end || scalars[j].properties.isWhitespace || Script.isCJK(scalars[j].value) {
                    boundary = !(v == 0x2E && isAbbreviation(scalars, dotAt: i, lowerBound: start))
                }
            }
            if boundary {
                var j = i + 1
                while j < end, cjkTerminators.contains(scalars[j].value) || latinTerminators.contains(scalars[j].value)
                    || closers.contains(scalars[j].value) { j += 1 }
                if let trimmed = trim(scalars, start..<j) { sentences.append(trimmed) }
                start = j
                i = j
            } else {
                i += 1
            }
        }
        if start < end, let trimmed = trim(scalars, start..<end) { sentences.append(trimmed) }
        return sentences
    }

    /// Convenience for whole strings; returns the sentences as strings.
    public static func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        return split(scalars, in: 0..<scalars.count).map { String(String.UnicodeScalarView(scalars[$0])) }
    }

    /// Non-empty lines of `range`, trimmed.
    static func lines(_ scalars: [Unicode.Scalar], in range: Range<Int>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = range.lowerBound
        for i in range where scalars[i] == "\n" {
            if let trimmed = trim(scalars, start..<i) { out.append(trimmed) }
            start = i + 1
        }
        if start < range.upperBound, let trimmed = trim(scalars, start..<range.upperBound) { out.append(trimmed) }
        return out
    }

    private static func isAbbreviation(_ scalars: [Unicode.Scalar], dotAt dot: Int, lowerBound: Int) -> Bool {
        var j = dot
        while j > lowerBound, scalars[j - 1].properties.isAlphabetic || scalars[j - 1] == "." { j -= 1 }
        let word = String(String.UnicodeScalarView(scalars[j..<dot])).lowercased()
        if word.isEmpty { return false }
        if dot - j == 1, scalars[j].properties.isUppercase { return true }   // an initial: "J. Smith"
        return abbreviations.contains(word)
    }

    /// Trims white space from both ends; nil when nothing is left.
    static func trim(_ scalars: [Unicode.Scalar], _ range: Range<Int>) -> Range<Int>? {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, scalars[lower].properties.isWhitespace { lower += 1 }
        while upper > lower, scalars[upper - 1].properties.isWhitespace { upper -= 1 }
        return lower < upper ? lower..<upper : nil
    }
}

/// Estimates how many model tokens a piece of text costs, without a model.
///
/// Roughly what a WordPiece or SentencePiece vocabulary yields: one token per CJK character,
/// one per word plus one per six further letters, one per punctuation mark.
public enum TokenEstimator {
    public static func count(_ scalars: [Unicode.Scalar], in range: Range<Int>) -> Int {
        var tokens = 0
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let scalar = scalars[i]
            if Script.isCJK(scalar.value) {
                tokens += 1; i += 1
            } else if Script.isWordCharacter(scalar) {
                let start = i
                while i < end, Script.isWordCharacter(scalars[i]) { i += 1 }
                tokens += 1 + (i - start - 1) / 6
            } else {
                if !scalar.properties.isWhitespace { tokens += 1 }
                i += 1
            }
        }
        return tokens
    }

    public static func count(_ text: String) -> Int {
        let scalars = Array(text.unicodeScalars)
        return count(scalars, in: 0..<scalars.count)
    }
}
