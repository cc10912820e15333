/// The Porter (1980) suffix-stripping stemmer for English.
///
/// Applied to lower-cased ASCII words on both the indexing and the query side, so that
/// "ingesting", "ingested" and "ingests" all meet at "ingest". Words with digits or
/// non-ASCII letters are returned unchanged.
public enum PorterStemmer {
    /// Returns the stem of a lower-cased word.
    public static func stem(_ word: String) -> String {
        let utf8 = Array(word.utf8)
        guard utf8.count > 2, utf8.allSatisfy({ $0 >= 0x61 && $0 <= 0x7a }) else { return word }
        var state = State(b: utf8)
        state.run()
        return String(decoding: state.b[0...state.k], as: UTF8.self)
    }

    private struct State {
        var b: [UInt8]
        var k: Int
        var j: Int = 0

        init(b: [UInt8]) { self.b = b; self.k = b.count - 1 }

        func isConsonant(_ i: Int) -> Bool {
            switch b[i] {
            case UInt8(ascii: "a"), UInt8(ascii: "e"), UInt8(ascii: "i"), UInt8(ascii: "o"), UInt8(ascii: "u"): return false
            case UInt8(ascii: "y"): return i == 0 ? true : !isConsonant(i - 1)
            default: return true
            }
        }

        /// Number of vowel-consonant sequences in b[0...j].
        func measure() -> Int {
            var n = 0
            var i = 0
            while true {
                if i > j { return n }
                if !isConsonant(i) { break }
                i += 1
            }
            i += 1
            while true {
                while true {
                    if i > j { return n }
                    if isConsonant(i) { break }
                    i += 1
                }
                i += 1
                n += 1
                while true {
                    if i > j { return n }
                    if !isConsonant(i) { break }
                    i += 1
                }
                i += 1
            }
        }

        func vowelInStem() -> Bool {
            guard j >= 0 else { return false }
            for i in 0...j where !isConsonant(i) { return true }
            return false
        }

        func doubleConsonant(_ i: Int) -> Bool {
            i >= 1 && b[i] == b[i - 1] && isConsonant(i)
        }

        /// consonant-vowel-consonant ending at i, where the last consonant is not w, x or y.
        func cvc(_ i: Int) -> Bool {
            guard i >= 2, isConsonant(i), !isConsonant(i - 1), isConsonant(i - 2) else { return false }
            let c = b[i]
            return c != UInt8(ascii: "w") && c != UInt8(ascii: "x") && c != UInt8(ascii: "y")
        }

        mutating func ends(_ s: String) -> Bool {
            // The suffixes are literals (small strings): compared through their UTF-8 view, no allocation.
            let suffix = s.utf8
            let length = suffix.count
            guard length <= k + 1, b[k] == suffix[suffix.index(before: suffix.endIndex)] else { return false }
            if b[(k - length + 1)...k].elementsEqual(suffix) {
                j = k - length
                return true
            }
            return false
        }

        mutating func setTo(_ s: String) {
            let replacement = s.utf8
            b.replaceSubrange((j + 1)...k, with: replacement)
            k = j + replacement.count
            b.removeSubrange((k + 1)...)
        }

        mutating func replace(_ s: String) { if measure() > 0 { setTo(s) } }

        mutating func run() {
            step1ab(); guard k > 0 else { return }
            step1c(); step2(); step3(); step4(); step5()
        }

        mutating func step1ab() {
            if b[k] == UInt8(ascii: "s") {
                if ends("sses") { k -= 2 }
                else if ends("ies") { setTo("i") }
                else if k >= 1 && b[k - 1] != UInt8(ascii: "s") { k -= 1 }
                b.removeSubrange((k + 1)...)
            }
            if ends("eed") {
                if measure() > 0 { k -= 1; b.removeSubrange((k + 1)...) }
            } else if (ends("ed") || ends("ing")) && vowelInStem() {
                k = j
                b.removeSubrange((k + 1)...)
                if ends("at") { setTo("ate") }
                else if ends("bl") { setTo("ble") }
                else if ends("iz") { setTo("ize") }
                else if doubleConsonant(k) {
                    let c = b[k]
                    if c != UInt8(ascii: "l") && c != UInt8(ascii: "s") && c != UInt8(ascii: "z") {
                        k -= 1; b.removeSubrange((k + 1)...)
                    }
                } else {
                    j = k
                    if measure() == 1 && cvc(k) { b.append(UInt8(ascii: "e")); k += 1 }
                }
            }
        }

        mutating func step1c() {
            if ends("y") && vowelInStem() { b[k] = UInt8(ascii: "i") }
        }

        static let step2Rules: [(String, String)] = [
                ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
                ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
                ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
                ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
                ("logi", "log"),
        ]

        mutating func step2() {
            for (suffix, replacement) in Self.step2Rules where ends(suffix) { replace(replacement); return }
        }

        static let step3Rules: [(String, String)] = [
            ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""), ("ness", ""),
        ]

        mutating func step3() {
            for (suffix, replacement) in Self.step3Rules where ends(suffix) { replace(replacement); return }
        }

        static let step4Suffixes = ["al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent",
                                    "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize"]

        mutating func step4() {
            for suffix in Self.step4Suffixes where ends(suffix) {
                if suffix == "ion" {
                    guard j >= 0, b[j] == UInt8(ascii: "s") || b[j] == UInt8(ascii: "t") else { return }
                }
                if measure() > 1 { k = j; b.removeSubrange((k + 1)...) }
                return
            }
        }

        mutating func step5() {
            j = k
            if b[k] == UInt8(ascii: "e") {
                let m = measure()
                if m > 1 || (m == 1 && !cvc(k - 1)) { k -= 1; b.removeSubrange((k + 1)...) }
            }
            j = k   // the measure is the same with or without the removed final e
            if b[k] == UInt8(ascii: "l") && doubleConsonant(k) && measure() > 1 { k -= 1; b.removeSubrange((k + 1)...) }
        }
    }
}
