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

        /// True when b[0...k] ends with `suffix`; then j is the index before it.
        mutating func ends(_ suffix: [UInt8]) -> Bool {
            let length = suffix.count
            guard length <= k + 1, b[k] == suffix[length - 1] else { return false }
            let start = k - length + 1
            for i in 0..<length where b[start + i] != suffix[i] { return false }
            j = k - length
            return true
        }

        mutating func setTo(_ replacement: [UInt8]) {
            b.replaceSubrange((j + 1)...k, with: replacement)
            k = j + replacement.count
            b.removeSubrange((k + 1)...)
        }

        mutating func replace(_ s: [UInt8]) { if measure() > 0 { setTo(s) } }


        mutating func run() {
            step1ab(); guard k > 0 else { return }
            step1c(); step2(); step3(); step4(); step5()
        }

        // Suffixes and replacements of steps 1a–1c, as bytes once.
        static let at_ = Array("at".utf8)
        static let ate_ = Array("ate".utf8)
        static let bl_ = Array("bl".utf8)
        static let ble_ = Array("ble".utf8)
        static let ed_ = Array("ed".utf8)
        static let eed_ = Array("eed".utf8)
        static let i_ = Array("i".utf8)
        static let ies_ = Array("ies".utf8)
        static let ing_ = Array("ing".utf8)
        static let iz_ = Array("iz".utf8)
        static let ize_ = Array("ize".utf8)
        static let sses_ = Array("sses".utf8)
        static let y_ = Array("y".utf8)

        mutating func step1ab() {
            if b[k] == UInt8(ascii: "s") {
                if ends(Self.sses_) { k -= 2 }
                else if ends(Self.ies_) { setTo(Self.i_) }
                else if k >= 1 && b[k - 1] != UInt8(ascii: "s") { k -= 1 }
                b.removeSubrange((k + 1)...)
            }
            if ends(Self.eed_) {
                if measure() > 0 { k -= 1; b.removeSubrange((k + 1)...) }
            } else if (ends(Self.ed_) || ends(Self.ing_)) && vowelInStem() {
                k = j
                b.removeSubrange((k + 1)...)
                if ends(Self.at_) { setTo(Self.ate_) }
                else if ends(Self.bl_) { setTo(Self.ble_) }
                else if ends(Self.iz_) { setTo(Self.ize_) }
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
            if ends(Self.y_) && vowelInStem() { b[k] = UInt8(ascii: "i") }
        }

        static let step2Rules: [([UInt8], [UInt8])] = bytes([
                ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
                ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
                ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
                ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
                ("logi", "log"),
        ])

        mutating func step2() {
            for (suffix, replacement) in Self.step2Rules where ends(suffix) { replace(replacement); return }
        }

        static let step3Rules: [([UInt8], [UInt8])] = bytes([
            ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""), ("ness", ""),
        ])

        static func bytes(_ rules: [(String, String)]) -> [([UInt8], [UInt8])] { rules.map { (Array($0.0.utf8), Array($0.1.utf8)) } }

        mutating func step3() {
            for (suffix, replacement) in Self.step3Rules where ends(suffix) { replace(replacement); return }
        }

        static let step4Suffixes: [[UInt8]] = ["al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent",
                                    "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize"].map { Array($0.utf8) }
        static let ion = Array("ion".utf8)

        mutating func step4() {
            for suffix in Self.step4Suffixes where ends(suffix) {
                if suffix == Self.ion {
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
