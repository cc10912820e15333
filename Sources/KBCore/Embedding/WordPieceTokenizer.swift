import Foundation

/// BERT's tokenizer: basic tokenisation (clean-up, a space around every CJK ideograph, lower-casing,
/// accent stripping, punctuation split) followed by greedy longest-match WordPiece with `##`
/// continuation pieces.
struct WordPieceTokenizer: Sendable {
    let vocabulary: [String: Int32]
    let unknown: Int32
    let classify: Int32
    let separator: Int32
    let lowercase: Bool
    let maxCharactersPerWord = 100

    init(vocabulary: [String: Int32], lowercase: Bool = true) throws(KBError) {
        guard let unknown = vocabulary["[UNK]"], let classify = vocabulary["[CLS]"], let separator = vocabulary["[SEP]"] else {
            throw KBError(.model, "The WordPiece vocabulary has no [UNK], [CLS] or [SEP] token.")
        }
        self.vocabulary = vocabulary
        self.unknown = unknown
        self.classify = classify
        self.separator = separator
        self.lowercase = lowercase
    }

    /// Reads `vocab.txt` (one token per line, id = line number).
    static func load(vocabFile path: String, lowercase: Bool) throws(KBError) -> WordPieceTokenizer {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KBError(.model, "Cannot read the vocabulary \(path).")
        }
        var vocabulary: [String: Int32] = [:]
        for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let token = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
            if !token.isEmpty && vocabulary[token] == nil { vocabulary[token] = Int32(index) }
        }
        return try WordPieceTokenizer(vocabulary: vocabulary, lowercase: lowercase)
    }

    /// Token ids with [CLS] and [SEP], truncated to `maxTokens` in all; also whether it was truncated.
    func encode(_ text: String, maxTokens: Int) -> (ids: [Int32], truncated: Bool) {
        var ids: [Int32] = [classify]
        let budget = maxTokens - 2
        var truncated = false
        outer: for word in basicTokens(text) {
            for id in wordPieces(word) {
                if ids.count - 1 >= budget { truncated = true; break outer }
                ids.append(id)
            }
        }
        ids.append(separator)
        return (ids, truncated)
    }

    /// Basic tokenisation: words and single punctuation marks / CJK characters.
    func basicTokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            if !current.isEmpty { tokens.append(String(current)); current = String.UnicodeScalarView() }
        }
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v == 0 || v == 0xFFFD || (isControl(scalar) && !isWhitespace(scalar)) { continue }
            if isWhitespace(scalar) { flush(); continue }
            if Self.isChineseCharacter(v) || Self.isPunctuation(scalar) {
                flush()
                tokens.append(String(Character(scalar)))
                continue
            }
            current.append(scalar)
        }
        flush()
        guard lowercase else { return tokens }
        return tokens.map { token in
            // Lower-case, then strip accents (NFD, drop combining marks), as BERT's uncased tokenizer does.
            let lowered = token.lowercased().decomposedStringWithCanonicalMapping
            return String(String.UnicodeScalarView(lowered.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }))
        }.flatMap { splitPunctuation($0) }
    }

    /// Lower-casing can expose punctuation only in rare cases; split again to be safe.
    private func splitPunctuation(_ token: String) -> [String] {
        guard token.unicodeScalars.contains(where: Self.isPunctuation) else { return token.isEmpty ? [] : [token] }
        var out: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in token.unicodeScalars {
            if Self.isPunctuation(scalar) {
                if !current.isEmpty { out.append(String(current)); current = String.UnicodeScalarView() }
                out.append(String(Character(scalar)))
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { out.append(String(current)) }
        return out
    }

    /// Greedy longest-match-first WordPiece; an unsplittable word is [UNK].
    func wordPieces(_ word: String) -> [Int32] {
        let scalars = Array(word.unicodeScalars)
        if scalars.count > maxCharactersPerWord { return [unknown] }
        var pieces: [Int32] = []
        var start = 0
        while start < scalars.count {
            var end = scalars.count
            var found: Int32?
            while start < end {
                var piece = String(String.UnicodeScalarView(scalars[start..<end]))
                if start > 0 { piece = "##" + piece }
                if let id = vocabulary[piece] { found = id; break }
                end -= 1
            }
            guard let id = found else { return [unknown] }
            pieces.append(id)
            start = end
        }
        return pieces
    }

    private func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar.properties.generalCategory == .spaceSeparator
    }

    private func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format: return true
        default: return false
        }
    }

    /// BERT's "Chinese character" ranges (CJK ideographs only; kana and Hangul are not split).
    static func isChineseCharacter(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    /// ASCII symbols count as punctuation too, as in BERT.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }
}
