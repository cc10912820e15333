import Foundation

/// Settings for reading scanned pages and images with OCR (Debian's `tesseract-ocr` with its English, simplified
/// and traditional Chinese data).
public struct OCROptions: Sendable, Hashable, Codable {
    /// OCR on or off (`--no-ocr`, `ocr = false`). Off, a scanned PDF is reported as having no text layer and
    /// images are skipped.
    public var enabled: Bool
    /// Seconds one page may take, all language passes together; a page over budget is reported and not indexed.
    public var secondsPerPage: Double
    /// Scanned pages read per file; the rest of a longer scan is reported and not indexed.
    public var maxPages: Int
    /// Pages whose mean word confidence (0–1) is below this are reported as unreadable instead of indexed.
    public var minimumConfidence: Double
    /// Dots per inch scanned PDF pages are rendered at for OCR.
    public var resolution: Int

    public static let defaultSecondsPerPage = 120.0
    public static let defaultMaxPages = 100
    public static let defaultMinimumConfidence = 0.6

    /// The settings that change what OCR indexes, for document fingerprints: a file read with other settings
    /// is read again.
    var fingerprint: String {
        "ocr:p\(maxPages),c\(Int((minimumConfidence * 100).rounded())),r\(resolution)"
    }

    public init(enabled: Bool = true, secondsPerPage: Double = OCROptions.defaultSecondsPerPage, maxPages: Int = OCROptions.defaultMaxPages,
                minimumConfidence: Double = OCROptions.defaultMinimumConfidence, resolution: Int = 300) {
        self.enabled = enabled
        self.secondsPerPage = max(1, secondsPerPage)
        self.maxPages = max(1, maxPages)
        self.minimumConfidence = min(1, max(0, minimumConfidence))
        self.resolution = min(600, max(72, resolution))
    }
}

/// Text recognised on one page.
struct OCRPage: Sendable, Equatable {
    /// 1-based page of the image (a multi-page TIFF has several).
    var page: Int
    /// Paragraphs in reading order, CJK without the spaces tesseract puts between characters.
    var paragraphs: [String]
    /// Mean word confidence, weighted by characters (0–1).
    var confidence: Double
    /// The tesseract languages of the pass that won (`eng`, `chi_sim`, `chi_tra`).
    var languages: String
    /// Characters recognised.
    var characters: Int
}

/// OCR with the `tesseract` command (one process per image: a crash or a hang on a bad scan costs that page,
/// never the ingest, and the timeout is a kill).
///
/// The language is decided per page, never by the file name: an English pass first; when it is not confidently
/// English, a simplified-Chinese pass, and when that finds Chinese, a traditional-Chinese pass; each page keeps the
/// pass with the highest mean confidence. The Chinese passes use the Chinese data alone: they read the Latin
/// words of a mixed page well, while adding `eng` made tesseract read Chinese lines as Latin garbage (a traditional
/// page: confidence 0.84 and "SAMS. W…" with `chi_tra+eng`, 0.855 and the right characters with `chi_tra`). Tesseract runs single-threaded (`OMP_THREAD_LIMIT=1`): its OpenMP threads
/// spin on a busy two-core machine and made a page take 46 s instead of 6 s.
enum OCREngine {
    /// The tesseract executable, or nil when `tesseract-ocr` is not installed.
    static let tool: String? = ExternalTool.find("tesseract")

    /// Installed language data (`tesseract --list-langs`).
    static let languages: Set<String> = {
        guard let tool, let output = try? ExternalTool.run(tool, ["--list-langs"], timeout: 30, label: "tesseract") else { return [] }
        let text = String(decoding: output.stdout, as: UTF8.self) + "\n" + output.stderr
        return Set(text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.contains(" ") && !$0.isEmpty })
    }()

    /// An English pass at least this confident, with little CJK in it, is taken without trying Chinese.
    static let confidentEnglish = 0.85

    /// Recognises the image at `path` (PNG, JPEG, TIFF, WebP, BMP) within `seconds`.
    static func recognise(_ path: String, seconds: Double) throws(LoadFailure) -> [OCRPage] {
        do { return try recognisePasses(path, seconds: seconds) } catch .missingTool(let tool) { throw .missingTool(tool) }
    }

    private static func recognisePasses(_ path: String, seconds: Double) throws(LoadFailure) -> [OCRPage] {
        guard let tool else { throw .missingTool("tesseract (Debian's tesseract-ocr)") }
        let deadline = Date().addingTimeInterval(seconds)
        func pass(_ languages: String) throws(LoadFailure) -> [OCRPage] {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0.5 else { throw .damaged("OCR did not finish within \(Int(seconds)) s (the per-page budget, see --ocr-seconds)") }
            let output = try ExternalTool.run(tool, [path, "stdout", "-l", languages, "--psm", "3", "tsv"], timeout: remaining,
                                              environment: ["OMP_THREAD_LIMIT": "1"], label: "tesseract")
            if output.timedOut { throw .damaged("OCR did not finish within \(Int(seconds)) s (the per-page budget, see --ocr-seconds)") }
            if output.crashed { throw .damaged("tesseract crashed (signal \(output.status))") }
            guard output.status == 0 else { throw .damaged("tesseract: " + ExternalTool.message(output, tool: "tesseract")) }
            return parseTSV(String(decoding: output.stdout, as: UTF8.self), languages: languages)
        }
        let installed = languages
        var best = try pass("eng")
        let english = best.reduce(into: (characters: 0, cjk: 0, weighted: 0.0)) {
            $0.characters += $1.characters; $0.cjk += cjkCount($1.paragraphs); $0.weighted += $1.confidence * Double($1.characters)
        }
        let englishConfidence = english.characters > 0 ? english.weighted / Double(english.characters) : 0
        if englishConfidence >= confidentEnglish && english.cjk * 10 < max(1, english.characters) { return best }
        guard installed.contains("chi_sim") || installed.contains("chi_tra") else { return best }
        // The Chinese passes are tries: one that fails or runs out of time leaves the English reading.
        var candidates: [[OCRPage]] = []
        if installed.contains("chi_sim") {
            if let simplified = try? pass("chi_sim") {
                candidates.append(simplified)
                let characters = simplified.reduce(0) { $0 + $1.characters }
                let cjk = simplified.reduce(0) { $0 + cjkCount($1.paragraphs) }
                if installed.contains("chi_tra") && cjk * 5 >= max(1, characters), let traditional = try? pass("chi_tra") {
                    candidates.append(traditional)
                }
            }
        } else if let traditional = try? pass("chi_tra") {
            candidates.append(traditional)
        }
        // Per page, the most confident pass.
        for candidate in candidates {
            for page in candidate {
                if let index = best.firstIndex(where: { $0.page == page.page }) {
                    if page.confidence > best[index].confidence && page.characters > 0 { best[index] = page }
                } else {
                    best.append(page)
                }
            }
        }
        return best.sorted { $0.page < $1.page }
    }

    /// Pages from tesseract's TSV (level, page, block, paragraph, line, word, left, top, width, height, conf, text).
    static func parseTSV(_ tsv: String, languages: String) -> [OCRPage] {
        struct Word { var page: Int; var block: Int; var paragraph: Int; var line: Int; var text: String; var confidence: Double }
        var words: [Word] = []
        for row in tsv.split(separator: "\n", omittingEmptySubsequences: true).dropFirst() {
            let fields = row.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 12, fields[0] == "5", let page = Int(fields[1]), let block = Int(fields[2]),
                  let paragraph = Int(fields[3]), let line = Int(fields[4]), let confidence = Double(fields[10]), confidence >= 0 else { continue }
            let text = fields[11...].joined(separator: "\t").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { continue }
            words.append(Word(page: page, block: block, paragraph: paragraph, line: line, text: text, confidence: confidence / 100))
        }
        var pages: [OCRPage] = []
        for page in Array(Set(words.map(\.page))).sorted() {
            let pageWords = words.filter { $0.page == page }
            var paragraphs: [String] = []
            var lines: [String] = []
            var lineWords: [String] = []
            var key: (Int, Int, Int)?
            var paragraphKey: (Int, Int)?
            func endLine() { if !lineWords.isEmpty { lines.append(joinWords(lineWords)) }; lineWords = [] }
            func endParagraph() {
                endLine()
                if !lines.isEmpty { paragraphs.append(PDFLoader.joinLines(lines)) }
                lines = []
            }
            for word in pageWords {
                if let current = paragraphKey, current != (word.block, word.paragraph) { endParagraph() }
                else if let current = key, current != (word.block, word.paragraph, word.line) { endLine() }
                key = (word.block, word.paragraph, word.line)
                paragraphKey = (word.block, word.paragraph)
                lineWords.append(word.text)
            }
            endParagraph()
            let characters = pageWords.reduce(0) { $0 + $1.text.count }
            let weighted = pageWords.reduce(0.0) { $0 + $1.confidence * Double($1.text.count) }
            pages.append(OCRPage(page: page, paragraphs: paragraphs, confidence: characters > 0 ? weighted / Double(characters) : 0,
                                 languages: languages, characters: characters))
        }
        return pages
    }

    /// Joins a line's words with spaces, except between two CJK characters, or CJK and punctuation, where
    /// tesseract's spaces are not in the text.
    static func joinWords(_ words: [String]) -> String {
        var out = ""
        for word in words {
            if let last = out.unicodeScalars.last, let first = word.unicodeScalars.first {
                let tight = (isCJKText(last) && (isCJKText(first) || isPunctuation(first)))
                    || (isCJKText(first) && isPunctuation(last))
                if !tight { out += " " }
            }
            out += word
        }
        return out
    }

    /// CJK ideographs, kana, hangul and the full-width punctuation around them.
    static func isCJKText(_ scalar: Unicode.Scalar) -> Bool {
        Script.isCJK(scalar.value) || (0x3000...0x303F).contains(scalar.value) || (0xFF00...0xFFEF).contains(scalar.value)
    }

    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation,
             .otherPunctuation: return true
        default: return false
        }
    }

    static func cjkCount(_ paragraphs: [String]) -> Int {
        paragraphs.reduce(0) { $0 + $1.unicodeScalars.filter { Script.isCJK($0.value) }.count }
    }
}

/// Images as documents (`.png`, `.jpg`, `.jpeg`, `.tif`, `.tiff`, `.webp`, `.bmp`), read with OCR; each page of a
/// multi-page TIFF is a page. Passages say they came from OCR and carry tesseract's confidence.
public struct ImageLoader: DocumentLoader {
    public let format = "image"
    public let fileExtensions: Set<String> = ["png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp"]
    public let version = "1"

    public func version(for context: LoadContext) -> String { version + "+" + context.ocr.fingerprint }
    /// Largest image kb hands to OCR, in pixels (a guard against decompression bombs).
    static let maximumPixels = 60_000_000

    public init() {}

    public func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument {
        try load(data, url: url, context: LoadContext())
    }

    public func load(_ data: Data, url: URL, context: LoadContext) throws(LoadFailure) -> ExtractedDocument {
        guard context.ocr.enabled else { throw .unsupported("image (OCR is off: --no-ocr or ocr = false)") }
        try Self.checkSignature(data, url: url)
        // A multi-page TIFF is one tesseract run: its budget is the per-page budget for each page it may read.
        let expected = ["tif", "tiff"].contains(url.pathExtension.lowercased()) ? min(context.ocr.maxPages, Self.tiffPageCount(data)) : 1
        context.pageProgress(0, expected)
        let pages = try OCREngine.recognise(url.path, seconds: context.ocr.secondsPerPage * Double(max(1, expected)))
        var builder = DocumentTextBuilder()
        var warnings: [String] = []
        var read = 0
        var rejected: [String] = []
        for page in pages.prefix(context.ocr.maxPages) {
            let place = pages.count > 1 ? "page \(page.page)" : "the image"
            guard page.characters > 0 else { continue }
            guard page.confidence >= context.ocr.minimumConfidence else {
                rejected.append("\(place): confidence \(Int((page.confidence * 100).rounded())) % is below the \(Int(context.ocr.minimumConfidence * 100)) % minimum")
                continue
            }
            read += 1
            for paragraph in page.paragraphs {
                builder.append(.paragraph, paragraph, line: page.page, page: pages.count > 1 ? page.page : nil,
                               locator: .ocr(confidence: page.confidence))
            }
        }
        context.pageProgress(expected, expected)
        if pages.count > context.ocr.maxPages {
            warnings.append("OCR read \(context.ocr.maxPages) of \(pages.count) pages (the limit is --ocr-max-pages \(context.ocr.maxPages)); the rest are not indexed")
        }
        if builder.blocks.isEmpty {
            if rejected.isEmpty { throw .noText }
            throw .unreadableScan(rejected.joined(separator: "; ") + " (unreadable, not indexed)")
        }
        warnings += rejected.map { "\($0); unreadable, not indexed" }
        var document = ExtractedDocument(format: format, encoding: nil, title: nil, text: builder.text, blocks: builder.blocks,
                                         warnings: warnings)
        document.ocrPages = read
        return document
    }

    /// Width and height from a JPEG's start-of-frame marker (the first 64 KiB are searched), or nil.
    static func jpegSize(_ data: Data) -> (Int, Int)? {
        let bytes = [UInt8](data.prefix(65_536))
        var index = 2
        while index + 9 < bytes.count {
            guard bytes[index] == 0xFF else { return nil }
            let marker = bytes[index + 1]
            let length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                return (Int(bytes[index + 7]) << 8 | Int(bytes[index + 8]), Int(bytes[index + 5]) << 8 | Int(bytes[index + 6]))
            }
            guard length >= 2 else { return nil }
            index += 2 + length
        }
        return nil
    }

    /// Pages (image file directories) of a TIFF, at least 1; counting stops at 10,000 or at a broken offset.
    static func tiffPageCount(_ data: Data) -> Int {
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { return 1 }
        let little = bytes[0] == 0x49
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= bytes.count else { return nil }
            return little ? Int(bytes[at]) | Int(bytes[at + 1]) << 8 : Int(bytes[at]) << 8 | Int(bytes[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard at >= 0, at + 4 <= bytes.count else { return nil }
            let b = bytes[at..<at + 4].map(Int.init)
            return little ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]
        }
        var offset = u32(4) ?? 0
        var pages = 0
        var seen = Set<Int>()
        while offset > 0, pages < 10_000, !seen.contains(offset), let entries = u16(offset) {
            seen.insert(offset)
            pages += 1
            guard let next = u32(offset + 2 + entries * 12) else { break }
            offset = next
        }
        return max(1, pages)
    }

    /// A clear reason for a file that is not the image its extension says, and a size check for PNGs.
    static func checkSignature(_ data: Data, url: URL) throws(LoadFailure) {
        let bytes = [UInt8](data.prefix(32))
        let ext = url.pathExtension.lowercased()
        let known: Bool
        switch ext {
        case "png": known = bytes.starts(with: [0x89, 0x50, 0x4E, 0x47])
        case "jpg", "jpeg": known = bytes.starts(with: [0xFF, 0xD8, 0xFF])
        case "tif", "tiff": known = bytes.starts(with: [0x49, 0x49, 0x2A, 0x00]) || bytes.starts(with: [0x4D, 0x4D, 0x00, 0x2A])
        case "webp": known = bytes.count >= 12 && bytes.starts(with: Array("RIFF".utf8)) && Array(bytes[8..<12]) == Array("WEBP".utf8)
        case "bmp": known = bytes.starts(with: Array("BM".utf8))
        default: known = true
        }
        guard known else { throw .damaged("not a \(ext.uppercased()) image (its first bytes do not say so)") }
        if ext == "png" && data.count < 33 { throw .damaged("truncated PNG image (\(data.count) bytes)") }
        if ext == "jpg" || ext == "jpeg", let (width, height) = jpegSize(data),
           width.multipliedReportingOverflow(by: height).partialValue > maximumPixels {
            throw .damaged("the image is \(width) × \(height) pixels; kb reads images of up to \(maximumPixels / 1_000_000) megapixels")
        }
        if ext == "png", bytes.count >= 24 {
            let width = Int(bytes[16]) << 24 | Int(bytes[17]) << 16 | Int(bytes[18]) << 8 | Int(bytes[19])
            let height = Int(bytes[20]) << 24 | Int(bytes[21]) << 16 | Int(bytes[22]) << 8 | Int(bytes[23])
            if width.multipliedReportingOverflow(by: height).partialValue > maximumPixels || width > 100_000 || height > 100_000 {
                throw .damaged("the image is \(width) × \(height) pixels; kb reads images of up to \(maximumPixels / 1_000_000) megapixels")
            }
        }
    }
}
