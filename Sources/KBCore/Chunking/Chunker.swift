/// Token budget and overlap for chunking.
public struct ChunkingOptions: Sendable, Hashable, Codable {
    /// Upper bound on a chunk's estimated tokens (see ``TokenEstimator``).
    public var maxTokens: Int
    /// Estimated tokens of trailing sentences repeated at the start of the next chunk of the same section.
    public var overlapTokens: Int

    public init(maxTokens: Int = 200, overlapTokens: Int = 24) {
        self.maxTokens = max(16, maxTokens)
        self.overlapTokens = max(0, min(overlapTokens, self.maxTokens / 2))
    }

    /// Identifies the chunking settings; stored per document so changed settings re-chunk on the next ingest.
    var fingerprint: String { "tokens=\(maxTokens),overlap=\(overlapTokens)" }
}

/// A chunk produced from a document, before it is stored.
public struct ChunkDraft: Sendable, Equatable {
    /// Position of the chunk in its document, from 0.
    public var ordinal: Int
    /// The chunk's text: exactly the document text between `range`'s bounds.
    public var text: String
    /// The heading path of the chunk's section, for example `Guide > Ingest`; empty when none.
    public var heading: String
    /// Offsets into the document text, in Unicode scalars.
    public var range: Range<Int>
    /// 1-based source lines, inclusive.
    public var startLine: Int
    public var endLine: Int
    /// 1-based page, for paged formats.
    public var page: Int?
    /// Estimated tokens.
    public var tokenCount: Int
    /// Hash of heading and text; an unchanged chunk keeps its id across re-ingests.
    public var contentHash: String
    /// The place as citations show it when lines and pages do not say it: "slide 3", "sheet Budget, rows 4-9",
    /// "p. 2, OCR, 91% confidence". Nil for ordinary text.
    public var locator: String?
    /// Tesseract's mean word confidence (0–1) for a passage read by OCR; nil otherwise.
    public var ocrConfidence: Double?

    public init(ordinal: Int, text: String, heading: String, range: Range<Int>, startLine: Int, endLine: Int, page: Int?,
                tokenCount: Int, contentHash: String, locator: String? = nil, ocrConfidence: Double? = nil) {
        self.ordinal = ordinal; self.text = text; self.heading = heading; self.range = range
        self.startLine = startLine; self.endLine = endLine; self.page = page; self.tokenCount = tokenCount; self.contentHash = contentHash
        self.locator = locator; self.ocrConfidence = ocrConfidence
    }
}

extension BlockLocator {
    /// The place as a citation shows it, for a chunk on `page` spanning the block lines `startLine`…`endLine`.
    func label(page: Int?, startLine: Int, endLine: Int) -> String {
        switch self {
        case .slide(let number): return "slide \(number)"
        case .sheet(let name):
            return startLine == endLine ? "sheet \(name), row \(startLine)" : "sheet \(name), rows \(startLine)-\(endLine)"
        case .ocr(let confidence):
            let read = "OCR, \(Int((confidence * 100).rounded()))% confidence"
            return page.map { "p. \($0), \(read)" } ?? read
        }
    }

    /// Tesseract's confidence, for OCR blocks.
    var ocrConfidence: Double? {
        if case .ocr(let confidence) = self { return confidence }
        return nil
    }
}

/// Splits an extracted document into chunks for indexing and retrieval.
public protocol Chunker: Sendable {
    /// Settings that change the output; part of each document's processing fingerprint.
    var fingerprint: String { get }
    func chunk(_ document: ExtractedDocument) -> [ChunkDraft]
}
