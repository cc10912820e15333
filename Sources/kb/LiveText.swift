import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Answer text streamed to a terminal that kb may take back. It counts the rows it wrote (wide CJK characters
/// take two columns, long lines wrap), so it can move the cursor back over them and clear them. Off a terminal
/// nothing streams: only the final answer is printed, once.
final class LiveText: @unchecked Sendable {
    private let lock = NSLock()
    private var shown = ""
    /// True when text streams (standard output is a terminal and not --json).
    let live: Bool

    init(live: Bool) { self.live = live }

    /// Writes a piece of streamed text.
    func write(_ piece: String) {
        guard live else { return }
        lock.withLock {
            shown += piece
            FileHandle.standardOutput.write(Data(piece.utf8))
        }
    }

    /// The text streamed and still on screen.
    var text: String { lock.withLock { shown } }

    /// Clears the streamed text from the screen.
    func erase() {
        guard live else { return }
        lock.withLock {
            guard !shown.isEmpty else { return }
            let rows = Self.rows(shown, columns: Self.columns())
            var control = "\r"
            if rows > 1 { control += "\u{1B}[\(rows - 1)A" }
            control += "\u{1B}[J"
            FileHandle.standardOutput.write(Data(control.utf8))
            shown = ""
        }
    }

    /// Replaces what streamed with `final` when they differ (kb corrected or replaced the text), so the answer
    /// appears once.
    func settle(_ final: String) {
        guard live else {
            print(final)
            return
        }
        if text.trimmingCharacters(in: .whitespacesAndNewlines) != final.trimmingCharacters(in: .whitespacesAndNewlines) {
            erase()
            print(final)
        } else {
            print("")
        }
    }

    /// The terminal's width in columns (80 when it cannot be read).
    static func columns() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }

    /// Rows `text` takes on a terminal `columns` wide.
    static func rows(_ text: String, columns: Int) -> Int {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.reduce(0) { total, line in
            let columnsUsed = line.unicodeScalars.reduce(0) { $0 + Self.width(of: $1) }
            return total + max(1, (columnsUsed + columns - 1) / max(1, columns))
        }
    }

    /// Columns one character takes: two for East Asian wide characters, none for combining marks.
    static func width(of scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if scalar.properties.generalCategory == .nonspacingMark || scalar.properties.generalCategory == .enclosingMark || v == 0x200B { return 0 }
        if (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v)
            || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v) || (0x1F300...0x1FAFF).contains(v)
            || (0x20000...0x3FFFD).contains(v) { return 2 }
        return 1
    }
}
