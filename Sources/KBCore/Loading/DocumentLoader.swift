import Foundation

/// The kind of a structural block in an extracted document.
public enum BlockKind: String, Sendable, Codable {
    case heading, paragraph, listItem, code, table
}

/// Where a block sits in its file when lines and pages do not say it: a slide, a spreadsheet's sheet, a page read by OCR.
public enum BlockLocator: Sendable, Equatable, Hashable {
    /// A slide of a presentation (1-based).
    case slide(Int)
    /// A sheet of a spreadsheet, by name; the block's lines are the sheet's row numbers.
    case sheet(String)
    /// Text recognised by OCR, with tesseract's mean word confidence for the page (0–1).
    case ocr(confidence: Double)
}

/// A structural block of a document's text: a heading, a paragraph, a list item, a code block or a table.
public struct TextBlock: Sendable, Equatable {
    public var kind: BlockKind
    /// Heading level (1 = top) for headings; 0 otherwise.
    public var level: Int
    /// The clean heading title, for headings.
    public var title: String?
    /// Range of the block in the document text, in Unicode scalars.
    public var range: Range<Int>
    /// 1-based line of the source file where the block starts.
    public var startLine: Int
    /// 1-based page, for paged formats.
    public var page: Int?
    /// The block's last source line, when its text is not the source's lines (a CSV row rendered
    /// as `column: value` lines); nil when lines can be counted in the text.
    public var endLine: Int?
    /// The slide, sheet or OCR page the block comes from, when lines and pages do not say it.
    public var locator: BlockLocator?

    public init(kind: BlockKind, level: Int = 0, title: String? = nil, range: Range<Int>, startLine: Int, page: Int? = nil,
                endLine: Int? = nil, locator: BlockLocator? = nil) {
        self.kind = kind; self.level = level; self.title = title; self.range = range; self.startLine = startLine; self.page = page
        self.endLine = endLine; self.locator = locator
    }
}

/// What a loader extracts from a file: its text and the structure over it.
public struct ExtractedDocument: Sendable {
    /// Format name, for example `markdown`, `html`, `text`, `xml`.
    public var format: String
    /// The source encoding kb detected.
    public var encoding: String?
    /// The document's title, when it has one.
    public var title: String?
    /// The document text. For plain text and Markdown it is the normalised file; for HTML and XML
    /// the extracted visible text. Chunk offsets point into it.
    public var text: String
    /// Blocks in document order, non-overlapping, with ranges into `text`.
    public var blocks: [TextBlock]
    /// What the user should know about a file that was read in part (pages OCR could not read, a page budget
    /// that ran out, an attachment that failed).
    public var warnings: [String] = []
    /// Pages (or images) read by OCR.
    public var ocrPages = 0
    /// Documents carried inside this one (an e-mail's attachments), each stored as a document of its own whose
    /// path is this file's path, " › " and the attachment's name.
    public var attachments: [Attachment] = []

    /// A document inside a document.
    public struct Attachment: Sendable {
        /// The attachment's file name, unique within its container.
        public var name: String
        public var document: ExtractedDocument
        public init(name: String, document: ExtractedDocument) { self.name = name; self.document = document }
    }

    /// Separates a container's path from an attachment's name in the attachment's document path.
    public static let attachmentSeparator = " › "

    public init(format: String, encoding: String?, title: String?, text: String, blocks: [TextBlock], warnings: [String] = []) {
        self.format = format; self.encoding = encoding; self.title = title; self.text = text; self.blocks = blocks
        self.warnings = warnings
    }
}

/// Why a file could not be ingested. Every case reads as a complete reason in a report.
public enum LoadFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case binary(String)
    case undecodable(String)
    case tooLarge(size: Int, limit: Int)
    case unsupported(String)
    case unreadable(String)
    case malformed(String)
    case noText
    /// A PDF protected by a password.
    case encrypted
    /// A PDF whose pages are images only, read while OCR is off.
    case noTextLayer
    /// Scanned pages or an image OCR could not read well enough to index; carries why.
    case unreadableScan(String)
    /// A document other than a PDF that needs a password (an encrypted Office file); carries what it is.
    case protected(String)
    /// A file the format's tool could not read; carries the tool's message.
    case damaged(String)
    /// A tool kb needs for this format is not installed.
    case missingTool(String)
    /// The PDF's text needs data the PDF tool lacks (poppler's CJK language packs): indexing what is left would
    /// index a document with its text missing, so the file is reported instead. Carries the tool's message.
    case missingLanguagePack(String)

    public var description: String {
        switch self {
        case .binary(let kind): return "binary content (\(kind)) under a text file extension"
        case .undecodable(let why): return "cannot decode the text: \(why)"
        case .tooLarge(let size, let limit):
            return "file is too large (\(ByteCount.format(size)); the limit is \(ByteCount.format(limit)), see --max-file-size)"
        case .unsupported(let what): return "unsupported file type \(what)"
        case .unreadable(let why): return "cannot read the file: \(why)"
        case .malformed(let why): return "cannot parse the file: \(why)"
        case .noText: return "no text (empty or white space only)"
        case .encrypted: return "encrypted (the PDF needs a password)"
        case .noTextLayer: return "no text layer (scanned?) and OCR is off (--no-ocr or ocr = false in the configuration)"
        case .unreadableScan(let why): return "OCR could not read it: \(why)"
        case .protected(let what): return "encrypted: \(what) needs a password"
        case .damaged(let message): return "damaged: \(message)"
        case .missingTool(let what): return "\(what) is not installed; run scripts/setup.sh"
        case .missingLanguagePack(let message):
            return "pdftotext cannot read this PDF's Chinese, Japanese or Korean text (\(message)); install Debian's poppler-data (scripts/setup.sh does) and ingest again — nothing was indexed, so no text is lost"
        }
    }

    /// Unsupported types and empty files are skipped; everything else is a failure.
    public var isSkip: Bool {
        switch self {
        case .unsupported, .noText: return true
        default: return false
        }
    }
}

/// Reads one family of file formats into an ``ExtractedDocument``.
///
/// To add a format, write a type conforming to this protocol and add it to
/// ``LoaderRegistry/standard``.
public protocol DocumentLoader: Sendable {
    /// Format name stored with each document, for example `markdown`.
    var format: String { get }
    /// Lower-case file extensions (without the dot) this loader reads.
    var fileExtensions: Set<String> { get }
    /// A version string; changing it makes the next ingest re-read this format's files.
    var version: String { get }
    /// Extracts text and structure from the file's bytes.
    func load(_ data: Data, url: URL) throws(LoadFailure) -> ExtractedDocument
    /// Extracts text and structure with the ingest's settings (OCR) and a progress hook; by default `load(_:url:)`.
    func load(_ data: Data, url: URL, context: LoadContext) throws(LoadFailure) -> ExtractedDocument
    /// The version part of a document's fingerprint under these settings; by default ``version``. Loaders whose
    /// output depends on a setting (OCR on or off) include it, so changing the setting re-reads their files.
    func version(for context: LoadContext) -> String
}

extension DocumentLoader {
    public func load(_ data: Data, url: URL, context: LoadContext) throws(LoadFailure) -> ExtractedDocument {
        try load(data, url: url)
    }

    public func version(for context: LoadContext) -> String { version }
}

/// What an ingest tells a loader: its settings and where to report progress inside a long file.
public struct LoadContext: Sendable {
    /// OCR of scanned pages and images.
    public var ocr: OCROptions
    /// Loaders for the documents inside a document (e-mail attachments).
    public var registry: LoaderRegistry?
    /// Called by loaders that work page by page (OCR) with the pages done and the pages planned.
    public var pageProgress: @Sendable (_ done: Int, _ total: Int) -> Void
    /// How many documents deep this one is (an e-mail attachment is 1), so nested attachments stay bounded.
    public var nesting = 0

    public init(ocr: OCROptions = OCROptions(), registry: LoaderRegistry? = nil,
                pageProgress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) {
        self.ocr = ocr; self.registry = registry; self.pageProgress = pageProgress
    }
}

/// The loaders kb knows, looked up by file extension.
public struct LoaderRegistry: Sendable {
    public private(set) var loaders: [any DocumentLoader]

    public init(_ loaders: [any DocumentLoader]) { self.loaders = loaders }

    /// The built-in loaders.
    public static let standard = LoaderRegistry([
        PlainTextLoader(), MarkdownLoader(), HTMLLoader(), XMLLoader(), PDFLoader(), DelimitedTextLoader(), SourceCodeLoader(), DOCXLoader(), EPUBLoader(),
        ImageLoader(), PPTXLoader(), XLSXLoader(), ODTLoader(), ODSLoader(), ODPLoader(), RTFLoader(), MailLoader(), LegacyOfficeLoader(),
    ])

    /// The loader for a file, by extension.
    public func loader(for url: URL) -> (any DocumentLoader)? {
        let ext = url.pathExtension.lowercased()
        return loaders.first { $0.fileExtensions.contains(ext) }
    }

    /// The loader for a file whose bytes are known: the content wins over a text extension, so a PDF,
    /// Word document or EPUB saved as `.txt` is still read as what it is.
    public func loader(for url: URL, content: Data) -> (any DocumentLoader)? {
        let byExtension = loader(for: url)
        guard byExtension is PlainTextLoader || byExtension is MarkdownLoader else { return byExtension }
        let head = content.prefix(4096)
        var detected: String?
        if head.starts(with: Array("%PDF".utf8)) { detected = "pdf" }
        else if head.starts(with: Array("{\\rtf".utf8)) { detected = "rtf" }
        else if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            if head.range(of: Data("word/".utf8)) != nil { detected = "docx" }
            else if head.range(of: Data("application/epub+zip".utf8)) != nil { detected = "epub" }
            else if head.range(of: Data("ppt/".utf8)) != nil { detected = "pptx" }
            else if head.range(of: Data("xl/".utf8)) != nil { detected = "xlsx" }
            else if head.range(of: Data("application/vnd.oasis.opendocument.text".utf8)) != nil { detected = "odt" }
            else if head.range(of: Data("application/vnd.oasis.opendocument.spreadsheet".utf8)) != nil { detected = "ods" }
            else if head.range(of: Data("application/vnd.oasis.opendocument.presentation".utf8)) != nil { detected = "odp" }
        }
        guard let detected else { return byExtension }
        return loaders.first { $0.fileExtensions.contains(detected) } ?? byExtension
    }

    /// Every extension a loader handles.
    public var supportedExtensions: [String] { loaders.flatMap(\.fileExtensions).sorted() }
}

/// Builds document text block by block, keeping scalar offsets; blocks are separated by a blank line.
struct DocumentTextBuilder {
    private(set) var scalars = String.UnicodeScalarView()
    private(set) var count = 0
    private(set) var blocks: [TextBlock] = []

    mutating func append(_ kind: BlockKind, _ text: String, line: Int, level: Int = 0, page: Int? = nil, endLine: Int? = nil,
                         locator: BlockLocator? = nil) {
        // A bound on one document's text (a crafted file can repeat a cell or a string millions of times).
        guard count < Self.maximumScalars else { return }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return }
        if count > 0 { scalars.append(contentsOf: "\n\n".unicodeScalars); count += 2 }
        let start = count
        for scalar in trimmed.unicodeScalars { scalars.append(scalar); count += 1 }
        blocks.append(TextBlock(kind: kind, level: level, title: kind == .heading ? trimmed : nil,
                                range: start..<count, startLine: max(1, line), page: page, endLine: endLine,
                                locator: locator))
    }

    var text: String { String(scalars) }

    /// Characters (Unicode scalars) one document may have; text beyond it is not indexed, and the ingest says so.
    static let maximumScalars = 50_000_000
}

/// Human-readable byte counts.
public enum ByteCount {
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) B" : "\(String(format: "%.1f", value)) \(units[unit])"
    }

    /// Parses "32MiB", "32M", "500k", "1048576" and the like.
    public static func parse(_ text: String) -> Int? {
        let lower = text.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = lower.prefix { $0.isNumber || $0 == "." }
        guard let number = Double(digits) else { return nil }
        let suffix = lower.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let multiplier: Double
        switch suffix {
        case "", "b": multiplier = 1
        case "k", "kb", "kib": multiplier = 1024
        case "m", "mb", "mib": multiplier = 1024 * 1024
        case "g", "gb", "gib": multiplier = 1024 * 1024 * 1024
        default: return nil
        }
        return Int(number * multiplier)
    }
}
