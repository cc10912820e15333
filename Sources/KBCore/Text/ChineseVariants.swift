import Foundation

/// Simplified and traditional Chinese as one script for keyword search: every traditional character folds to its
/// simplified form, in documents and in queries alike (``TextAnalyzer``, ``TermMatcher``), so 石橋 finds 石桥 and
/// back.
///
/// The table is ICU's `Traditional-Simplified` transform (bundled with Foundation) applied to each character of
/// the CJK Unified Ideographs and Extension A blocks, once per process (about 25 ms; 3,074 characters change). Only
/// one-to-one character mappings are kept, so offsets never move.
enum ChineseVariants {
    private static let first: UInt32 = 0x3400, last: UInt32 = 0x9FFF

    /// For each scalar in the table's range, its simplified form (itself when it has none).
    private static let table: [UInt32] = {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(Int(last - first + 1))
        for value in first...last { if let scalar = Unicode.Scalar(value) { scalars.append(scalar) } }
        // No surrogates below 0xD800: every value of the range is a scalar, so index = value − first.
        precondition(scalars.count == Int(last - first + 1), "ChineseVariants: the table's range must hold no surrogates")
        var identity = scalars.map(\.value)
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars)
        guard let folded = String(text).applyingTransform(StringTransform("Traditional-Simplified"), reverse: false) else { return identity }
        let out = Array(folded.unicodeScalars)
        // One scalar per input scalar, or the mapping cannot be trusted position by position: keep the identity.
        guard out.count == scalars.count else { return identity }
        for index in identity.indices where Script.isCJK(out[index].value) { identity[index] = out[index].value }
        return identity
    }()

    /// The simplified form of a character (itself when it is simplified already, or not Chinese).
    @inline(__always)
    static func fold(_ value: UInt32) -> UInt32 {
        guard value >= first && value <= last else { return value }
        return table[Int(value - first)]
    }

    /// `scalar` folded.
    @inline(__always)
    static func fold(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        let value = fold(scalar.value)
        return value == scalar.value ? scalar : Unicode.Scalar(value) ?? scalar
    }

    /// True when `text` holds a character that folds (a traditional one).
    static func containsTraditional(_ text: String) -> Bool {
        text.unicodeScalars.contains { fold($0.value) != $0.value }
    }

    /// Every traditional character folded in `text`.
    static func fold(_ text: String) -> String {
        var view = String.UnicodeScalarView()
        for scalar in text.unicodeScalars { view.append(fold(scalar)) }
        return String(view)
    }
}
