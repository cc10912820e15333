/// Unicode script facts kb needs for Chinese/English text handling.
enum Script {
    /// Han ideographs, kana and Hangul: scripts written without spaces between words (Korean aside),
    /// which kb indexes as character unigrams and bigrams.
    @inline(__always)
    static func isCJK(_ v: UInt32) -> Bool {
        switch v {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2EBEF, 0x30000...0x3134F, 0xF900...0xFAFF,
             0x3040...0x309F, 0x30A0...0x30FF, 0x31F0...0x31FF, 0xAC00...0xD7AF, 0x1100...0x11FF,
             0x3130...0x318F, 0x3005, 0x3007:
            return true
        default:
            return false
        }
    }

    @inline(__always)
    static func isHan(_ v: UInt32) -> Bool {
        switch v {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2EBEF, 0x30000...0x3134F, 0xF900...0xFAFF: return true
        default: return false
        }
    }

    /// Letters, digits and combining marks: the characters of a space-delimited word.
    @inline(__always)
    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 {
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
        }
        if isCJK(v) { return false }
        let properties = scalar.properties
        if properties.isAlphabetic { return true }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark: return true
        default: return false
        }
    }

    /// A best-effort language tag from the scripts used: "zh", "ja", "ko", "en" (any Latin-script text), or "und".
    static func detectLanguage(_ text: String) -> String {
        var han = 0, kana = 0, hangul = 0, latin = 0
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if isHan(v) { han += 1 }
            else if (0x3040...0x30FF).contains(v) { kana += 1 }
            else if (0xAC00...0xD7AF).contains(v) { hangul += 1 }
            else if scalar.properties.isAlphabetic && v < 0x250 { latin += 1 }
        }
        if kana > 0 && kana * 5 >= han { return "ja" }
        if hangul > 0 && hangul >= han { return "ko" }
        // One Han character weighs about as much as a short English word.
        if han > 0 && han * 4 >= latin { return "zh" }
        if latin > 0 { return "en" }
        if han > 0 { return "zh" }
        return "und"
    }
}
