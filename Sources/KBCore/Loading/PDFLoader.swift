import Foundation

/// PDF through poppler's `pdftotext -enc UTF-8` (Debian's poppler-utils), in reading order (not
/// `-layout`, which would interleave the columns of a two-column page line by line). Pages are
/// separated by form feeds; every block knows its page, so citations can say "p. 12".
///
/// An encrypted PDF, one without a text layer (scanned) and a damaged one are reported with
/// those reasons; none stops an ingest.
public struct PDFLoader: DocumentLoader {
    public let format = "pdf"
    public let fileExtensions: Set<String> = ["pdf"]
    public let version = "1"
    /// Seconds before a stuck `pdftotext` is stopped.
    public var timeout: Double = 120

    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        guard data.starts(with: Array("%PDF".utf8)) || data.prefix(1024).range(of: Data("%PDF".utf8)) != nil else {
            throw .damaged("not a PDF (no %PDF header)")
        }
        let output = try Self.run(["-enc", "UTF-8", "-eol", "unix", url.path, "-"], timeout: timeout)
        if output.status != 0 {
            let message = output.stderr.split(separator: "\n").map(String.init).first { !$0.isEmpty } ?? "pdftotext exited with status \(output.status)"
            if output.stderr.localizedCaseInsensitiveContains("password") { throw .encrypted }
            throw .damaged(message)
        }
        if let problem = Self.languagePackProblem(output.stderr) { throw .missingLanguagePack(problem) }
        let raw = String(decoding: output.stdout, as: UTF8.self)
        var builder = DocumentTextBuilder()
        var line = 1
        for (index, page) in raw.components(separatedBy: "\u{0C}").enumerated() {
            let text = TextDecoder.normalize(page)
            var paragraph: [String] = []
            var paragraphLine = line
            func flush() {
                if !paragraph.isEmpty { builder.append(.paragraph, Self.joinLines(paragraph), line: paragraphLine, page: index + 1) }
                paragraph = []
            }
            for pageLine in text.components(separatedBy: "\n") {
                if pageLine.trimmingCharacters(in: .whitespaces).isEmpty {
                    flush()
                } else {
                    if paragraph.isEmpty { paragraphLine = line }
                    paragraph.append(pageLine.trimmingCharacters(in: .whitespaces))
                }
                line += 1
            }
            flush()
        }
        guard !builder.blocks.isEmpty else { throw .noTextLayer }
        let title = builder.blocks.first.map { String(builder.text.unicodeScalars.prefix($0.range.upperBound).suffix($0.range.count)) }
            .map { $0.split(separator: "\n").first.map(String.init) ?? $0 }
        return ExtractedDocument(format: format, encoding: "utf-8", title: title.map { String($0.prefix(200)) },
                                 text: builder.text, blocks: builder.blocks)
    }

    /// poppler's message when text was dropped for want of a language pack or a character collection
    /// ("Missing language pack for 'Adobe-GB1' mapping", "Unknown character collection 'Adobe-Japan1'"): pdftotext
    /// still exits 0, with every character of those fonts gone. Nil when stderr has no such message.
    static func languagePackProblem(_ stderr: String) -> String? {
        let markers = ["Missing language pack", "Unknown character collection"]
        for line in stderr.split(whereSeparator: \.isNewline) {
            let text = line.trimmingCharacters(in: .whitespaces)
            if markers.contains(where: { text.localizedCaseInsensitiveContains($0) }) {
                return text.replacingOccurrences(of: "Syntax Error: ", with: "").replacingOccurrences(of: "Syntax Error (", with: "(")
            }
        }
        return nil
    }

    /// Joins a paragraph's lines: a hyphen at a line end joins the word ("docu-" + "ment");
    /// CJK lines join without a space; other lines with one.
    static func joinLines(_ lines: [String]) -> String {
        var out = ""
        for line in lines {
            guard let last = out.unicodeScalars.last else { out = line; continue }
            let first = line.unicodeScalars.first
            if last == "-", out.count > 1, let previous = out.unicodeScalars.dropLast().last, previous.properties.isLowercase,
               let first, first.properties.isLowercase {
                out.removeLast()
                out += line
            } else if Script.isCJK(last.value) || last.value >= 0x3000 && last.value < 0x3040 || (first.map { Script.isCJK($0.value) } ?? false) {
                out += line
            } else {
                out += "\n" + line
            }
        }
        return out
    }

    struct Output { var status: Int32; var stdout: Data; var stderr: String }

    /// Runs pdftotext, with a timeout.
    static func run(_ arguments: [String], timeout: Double) throws(LoadFailure) -> Output {
        guard let tool = ["/usr/bin/pdftotext", "/usr/local/bin/pdftotext", "/opt/homebrew/bin/pdftotext"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw .missingTool("pdftotext (poppler-utils)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw .missingTool("pdftotext (\(error.localizedDescription))") }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        let timedOut = DataBox()
        timer.schedule(deadline: .now() + timeout)
        timer.setEventHandler { if process.isRunning { timedOut.data = Data([1]); process.terminate() } }
        timer.resume()
        // Read both pipes concurrently so a full stderr pipe cannot block the tool.
        let errorBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errorBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        timer.cancel()
        if process.terminationReason == .uncaughtSignal {
            throw .damaged(timedOut.data.isEmpty ? "pdftotext crashed (signal \(process.terminationStatus))"
                                                 : "pdftotext did not finish within \(Int(timeout)) s")
        }
        return Output(status: process.terminationStatus, stdout: stdout, stderr: String(decoding: errorBox.data, as: UTF8.self))
    }
}

private final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = Data()
    var data: Data {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
