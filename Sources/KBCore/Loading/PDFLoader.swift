import Foundation

/// PDF through poppler's `pdftotext -enc UTF-8` (Debian's poppler-utils), in reading order (not
/// `-layout`, which would interleave the columns of a two-column page line by line). Pages are
/// separated by form feeds; every block knows its page, so citations can say "p. 12".
///
/// Pages without a text layer that hold an image (scans) are rendered with `pdftoppm` and read with OCR
/// (``OCREngine``), so a PDF with text on some pages and scans on others gets both; their passages say "p. N, OCR"
/// and carry tesseract's confidence. An encrypted PDF, a damaged one and, with OCR off, a scanned one are
/// reported with those reasons; none stops an ingest.
public struct PDFLoader: DocumentLoader {
    public let format = "pdf"
    public let fileExtensions: Set<String> = ["pdf"]
    public let version = "1"
    /// Seconds before a stuck `pdftotext` is stopped.
    public var timeout: Double = 120
    /// A page whose text layer has fewer visible characters than this (a scanner's watermark, a page number), and
    /// that holds a page-sized image, is a scan.
    static let scanTextThreshold = 200
    /// Pixels of the largest image on a page for it to count as a scan (a logo does not).
    static let scanImagePixels = 250_000

    public init() {}

    public func version(for context: LoadContext) -> String { context.ocr.enabled ? version + "+" + context.ocr.fingerprint : version }

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        try load(data, url: url, context: LoadContext(ocr: OCROptions(enabled: false)))
    }

    public func load(_ data: Data, url: URL, context: LoadContext) throws(LoadFailure) -> ExtractedDocument {
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
        var pages = raw.components(separatedBy: "\u{0C}").map(TextDecoder.normalize)
        if pages.count > 1, pages.last?.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty == true { pages.removeLast() }

        // Scanned pages: next to no text, and an image on the page.
        let sparse = pages.indices.filter { pages[$0].unicodeScalars.filter { !$0.properties.isWhitespace }.count < Self.scanTextThreshold }
        var scans: [Int] = []
        if !sparse.isEmpty {
            let withImages = Self.pagesWithImages(url.path, timeout: timeout)
            scans = sparse.filter { withImages.contains($0 + 1) }
        }
        var warnings: [String] = []
        var ocr: [Int: OCRPage] = [:]
        var unreadable: [String] = []
        if !scans.isEmpty {
            if context.ocr.enabled && OCREngine.tool == nil && scans.count < pages.count {
                warnings.append("\(Self.pageList(scans.map { $0 + 1 })) \(scans.count == 1 ? "has" : "have") no text layer and tesseract (Debian's tesseract-ocr) is not installed; not indexed")
            } else if !context.ocr.enabled {
                if scans.count < pages.count {
                    warnings.append("\(Self.pageList(scans.map { $0 + 1 })) \(scans.count == 1 ? "has" : "have") no text layer and OCR is off; not indexed")
                }
            } else {
                let planned = Array(scans.prefix(context.ocr.maxPages))
                if scans.count > planned.count {
                    warnings.append("OCR read \(planned.count) of \(scans.count) scanned pages (the limit is --ocr-max-pages \(context.ocr.maxPages)); \(Self.pageList(scans.dropFirst(planned.count).map { $0 + 1 })) not indexed")
                }
                let folder = try ExternalTool.temporaryFolder("ocr")
                defer { try? FileManager.default.removeItem(at: folder) }
                context.pageProgress(0, planned.count)
                for (done, index) in planned.enumerated() {
                    let page = index + 1
                    // A page with some text of its own (a caption under a photo) keeps it quietly when OCR cannot
                    // do better; only a page with next to nothing is reported as unreadable.
                    let hasText = pages[index].unicodeScalars.filter { !$0.properties.isWhitespace }.count >= 20
                    do {
                        let image = try Self.render(url.path, page: page, resolution: context.ocr.resolution, into: folder,
                                                    timeout: context.ocr.secondsPerPage)
                        defer { try? FileManager.default.removeItem(atPath: image) }
                        if let result = try OCREngine.recognise(image, seconds: context.ocr.secondsPerPage).first, result.characters > 0 {
                            if result.confidence >= context.ocr.minimumConfidence {
                                ocr[index] = result
                            } else if !hasText {
                                unreadable.append("p. \(page): OCR confidence \(Int((result.confidence * 100).rounded())) % is below the \(Int(context.ocr.minimumConfidence * 100)) % minimum")
                            }
                        }
                    } catch .missingTool(let tool) {
                        throw .missingTool(tool)
                    } catch {
                        if !hasText { unreadable.append("p. \(page): \(error.description)") }
                    }
                    context.pageProgress(done + 1, planned.count)
                }
            }
        }
        warnings += unreadable.map { $0 + "; unreadable, not indexed" }

        var builder = DocumentTextBuilder()
        var line = 1
        for (index, text) in pages.enumerated() {
            if let result = ocr[index] {
                for paragraph in result.paragraphs {
                    builder.append(.paragraph, paragraph, line: line, page: index + 1, locator: .ocr(confidence: result.confidence))
                    line += paragraph.split(separator: "\n", omittingEmptySubsequences: false).count + 1
                }
                continue
            }
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
        guard !builder.blocks.isEmpty else {
            if !unreadable.isEmpty { throw .unreadableScan(unreadable.joined(separator: "; ")) }
            if !scans.isEmpty && !context.ocr.enabled { throw .noTextLayer }
            if !scans.isEmpty { throw .unreadableScan("OCR found no text on \(Self.pageList(scans.map { $0 + 1 }))") }
            // Neither text nor images: an empty PDF.
            throw .noText
        }
        let title = builder.blocks.first.map { String(builder.text.unicodeScalars.prefix($0.range.upperBound).suffix($0.range.count)) }
            .map { $0.split(separator: "\n").first.map(String.init) ?? $0 }
        var document = ExtractedDocument(format: format, encoding: "utf-8", title: title.map { String($0.prefix(200)) },
                                         text: builder.text, blocks: builder.blocks, warnings: warnings)
        document.ocrPages = ocr.count
        return document
    }

    /// "p. 3", "pp. 3, 5, 7" (the first ten, then a count).
    static func pageList(_ pages: [Int]) -> String {
        let shown = pages.prefix(10).map(String.init).joined(separator: ", ")
        let more = pages.count > 10 ? " and \(pages.count - 10) more" : ""
        return (pages.count == 1 ? "p. " : "pp. ") + shown + more
    }

    /// Pages (1-based) that hold an image of at least ``scanImagePixels``, from `pdfimages -list` (columns: page,
    /// num, type, width, height, …); empty when the tool is missing.
    static func pagesWithImages(_ path: String, timeout: Double) -> Set<Int> {
        guard let tool = ExternalTool.find("pdfimages"),
              let output = try? ExternalTool.run(tool, ["-list", path], timeout: timeout, label: "pdfimages"), output.status == 0 else { return [] }
        var pages = Set<Int>()
        for line in String(decoding: output.stdout, as: UTF8.self).split(separator: "\n").dropFirst(2) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 5, let page = Int(fields[0]), fields[2] == "image",
                  let width = Int(fields[3]), let height = Int(fields[4]), width * height >= scanImagePixels else { continue }
            pages.insert(page)
        }
        return pages
    }

    /// Renders one page as a grey PNG for OCR; returns its path.
    static func render(_ path: String, page: Int, resolution: Int, into folder: URL, timeout: Double) throws(LoadFailure) -> String {
        guard let tool = ExternalTool.find("pdftoppm") else { throw .missingTool("pdftoppm (poppler-utils)") }
        let prefix = folder.appendingPathComponent("page-\(page)").path
        let output = try ExternalTool.run(tool, ["-r", String(resolution), "-gray", "-png", "-f", String(page), "-l", String(page),
                                                 "-singlefile", path, prefix], timeout: timeout, label: "pdftoppm")
        if output.timedOut { throw .damaged("rendering the page took longer than \(Int(timeout)) s") }
        guard output.status == 0, FileManager.default.fileExists(atPath: prefix + ".png") else {
            throw .damaged("pdftoppm: " + ExternalTool.message(output, tool: "pdftoppm"))
        }
        return prefix + ".png"
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

    /// Runs pdftotext, with a timeout.
    static func run(_ arguments: [String], timeout: Double) throws(LoadFailure) -> ExternalTool.Output {
        guard let tool = ExternalTool.find("pdftotext") else { throw .missingTool("pdftotext (poppler-utils)") }
        let output = try ExternalTool.run(tool, arguments, timeout: timeout, label: "pdftotext")
        if output.crashed {
            throw .damaged(output.timedOut ? "pdftotext did not finish within \(Int(timeout)) s" : "pdftotext crashed (signal \(output.status))")
        }
        return output
    }
}
