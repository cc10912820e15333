import Foundation
import KBCore
#if canImport(Glibc)
import Glibc
#endif

/// Terminal facts and styled output.
enum Terminal {
    static let stdoutIsTTY = isatty(STDOUT_FILENO) == 1
    static let stderrIsTTY = isatty(STDERR_FILENO) == 1
    static let stdinIsTTY = isatty(STDIN_FILENO) == 1
    static var colorEnabled: Bool { stdoutIsTTY && ProcessInfo.processInfo.environment["NO_COLOR"] == nil }

    static var width: Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 { return Int(size.ws_col) }
        return 80
    }

    /// Flushes `print` output, so that it stays in order with text written straight to the file handle.
    static func flush() { fflush(nil) }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("kb: error: \(message)\n".utf8))
    }

    static func printWarning(_ message: String) {
        FileHandle.standardError.write(Data("kb: \(message)\n".utf8))
    }

    static func bold(_ text: String) -> String { colorEnabled ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
    static func dim(_ text: String) -> String { colorEnabled ? "\u{1B}[2m\(text)\u{1B}[0m" : text }

    /// Applies highlight spans (Unicode scalar offsets) to text, when colour is on.
    static func highlight(_ text: String, _ spans: [[Int]]) -> String {
        guard colorEnabled, !spans.isEmpty else { return text }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var position = 0
        for span in spans where span.count == 2 && span[0] >= position && span[1] <= scalars.count {
            out.append(contentsOf: scalars[position..<span[0]])
            out.append(contentsOf: "\u{1B}[1;33m".unicodeScalars)
            out.append(contentsOf: scalars[span[0]..<span[1]])
            out.append(contentsOf: "\u{1B}[0m".unicodeScalars)
            position = span[1]
        }
        out.append(contentsOf: scalars[position...])
        return String(out)
    }

    /// A path relative to the current folder when it is inside it.
    static func displayPath(_ path: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath
        return path.hasPrefix(cwd + "/") ? String(path.dropFirst(cwd.count + 1)) : path
    }

    /// `path:12-30` or `path p. 4`.
    static func location(path: String, startLine: Int, endLine: Int, page: Int?, locator: String? = nil) -> String {
        let lines = startLine == endLine ? "\(startLine)" : "\(startLine)-\(endLine)"
        if let locator { return "\(displayPath(path)), \(locator)" }
        if let page { return "\(displayPath(path)) p. \(page)" }
        return "\(displayPath(path)):\(lines)"
    }
}

/// JSON on standard output, with stable, sorted keys.
enum JSONOutput {
    static func print<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(value) {
            FileHandle.standardOutput.write(data)
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
    }

    /// One value as one line of JSON (JSON Lines, for streams of answers).
    static func printLine<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(value) {
            FileHandle.standardOutput.write(data)
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
    }

    static func printError(message: String, type: String) {
        print(["error": ["message": message, "type": type]])
    }
}

/// Ctrl-C handling for long commands: the first interrupt asks the work to stop cleanly,
/// a second one exits at once (the database stays consistent either way).
enum Interrupts {
    nonisolated(unsafe) private static var flag: sig_atomic_t = 0

    static func install() {
        signal(SIGINT) { _ in
            if Interrupts.flag != 0 { _exit(130) }
            Interrupts.flag = 1
        }
        signal(SIGTERM) { _ in
            if Interrupts.flag != 0 { _exit(143) }
            Interrupts.flag = 1
        }
    }

    static var requested: Bool { flag != 0 }
}
