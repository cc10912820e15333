import Foundation

/// A stored document: one ingested file.
public struct DocumentRecord: Sendable, Equatable, Codable {
    public var id: Int
    public var path: String
    public var contentHash: String
    public var size: Int
    public var modifiedAt: Double
    public var format: String
    public var encoding: String?
    public var title: String?
    public var fingerprint: String
    public var chunkCount: Int
    public var ingestedAt: Double

    public init(id: Int, path: String, contentHash: String, size: Int, modifiedAt: Double, format: String, encoding: String?,
                title: String?, fingerprint: String, chunkCount: Int, ingestedAt: Double) {
        self.id = id; self.path = path; self.contentHash = contentHash; self.size = size; self.modifiedAt = modifiedAt
        self.format = format; self.encoding = encoding; self.title = title; self.fingerprint = fingerprint
        self.chunkCount = chunkCount; self.ingestedAt = ingestedAt
    }
}

/// A stored chunk with where it came from.
public struct Passage: Sendable, Equatable {
    public var chunkID: Int
    public var documentID: Int
    public var path: String
    public var title: String?
    public var heading: String
    public var text: String
    public var startLine: Int
    public var endLine: Int
    public var page: Int?
    public var ordinal: Int
    /// "slide 3", "sheet Budget, rows 4-9", "p. 2, OCR": the place when lines and pages do not say it.
    public var locator: String?
    /// Tesseract's mean word confidence (0–1) when the passage was read by OCR.
    public var ocrConfidence: Double?

    public init(chunkID: Int, documentID: Int, path: String, title: String?, heading: String, text: String,
                startLine: Int, endLine: Int, page: Int?, ordinal: Int, locator: String? = nil, ocrConfidence: Double? = nil) {
        self.locator = locator
        self.ocrConfidence = ocrConfidence
        self.chunkID = chunkID
        self.documentID = documentID
        self.path = path
        self.title = title
        self.heading = heading
        self.text = text
        self.startLine = startLine
        self.endLine = endLine
        self.page = page
        self.ordinal = ordinal
    }
}

/// A stored chunk's place in its document: what a reader needs to show the document with its chunks marked.
public struct ChunkSpan: Sendable, Equatable, Codable {
    public var chunkID: Int
    /// Position in the document, from 0.
    public var ordinal: Int
    public var heading: String
    /// The chunk's text: the document text between the offsets.
    public var text: String
    /// Offsets into the document text, in Unicode scalars.
    public var startOffset: Int
    public var endOffset: Int
    /// 1-based source lines, inclusive.
    public var startLine: Int
    public var endLine: Int
    public var page: Int?
    /// The slide, sheet rows or OCR page (see ``Passage/locator``).
    public var locator: String?
    /// Tesseract's confidence (0–1) for OCR passages.
    public var ocrConfidence: Double?

    public init(chunkID: Int, ordinal: Int, heading: String, text: String, startOffset: Int, endOffset: Int,
                startLine: Int, endLine: Int, page: Int?, locator: String? = nil, ocrConfidence: Double? = nil) {
        self.chunkID = chunkID; self.ordinal = ordinal; self.heading = heading; self.text = text
        self.startOffset = startOffset; self.endOffset = endOffset; self.startLine = startLine; self.endLine = endLine; self.page = page
        self.locator = locator; self.ocrConfidence = ocrConfidence
    }

    enum CodingKeys: String, CodingKey {
        case ordinal, heading, text, page, locator
        case chunkID = "chunk_id", startOffset = "start_offset", endOffset = "end_offset", startLine = "start_line", endLine = "end_line"
        case ocrConfidence = "ocr_confidence"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(String(chunkID), forKey: .chunkID)   // chunk ids are strings in kb's JSON
        try container.encode(ordinal, forKey: .ordinal)
        try container.encode(heading, forKey: .heading)
        try container.encode(text, forKey: .text)
        try container.encode(startOffset, forKey: .startOffset)
        try container.encode(endOffset, forKey: .endOffset)
        try container.encode(startLine, forKey: .startLine)
        try container.encode(endLine, forKey: .endLine)
        try container.encodeIfPresent(page, forKey: .page)
        try container.encodeIfPresent(locator, forKey: .locator)
        try container.encodeIfPresent(ocrConfidence, forKey: .ocrConfidence)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let raw = try container.decode(String.self, forKey: .chunkID)
        guard let id = Int(raw) else { throw DecodingError.dataCorruptedError(forKey: .chunkID, in: container, debugDescription: "not a chunk id") }
        chunkID = id
        ordinal = try container.decode(Int.self, forKey: .ordinal)
        heading = try container.decode(String.self, forKey: .heading)
        text = try container.decode(String.self, forKey: .text)
        startOffset = try container.decode(Int.self, forKey: .startOffset)
        endOffset = try container.decode(Int.self, forKey: .endOffset)
        startLine = try container.decode(Int.self, forKey: .startLine)
        endLine = try container.decode(Int.self, forKey: .endLine)
        page = try container.decodeIfPresent(Int.self, forKey: .page)
        locator = try container.decodeIfPresent(String.self, forKey: .locator)
        ocrConfidence = try container.decodeIfPresent(Double.self, forKey: .ocrConfidence)
    }
}

/// A file an ingest could not read, with the reason.
public struct IngestFailure: Sendable, Equatable, Codable {
    public var path: String
    public var error: String
}

/// A file an ingest passed over on purpose (unsupported type, no text), with the reason.
public struct IngestSkip: Sendable, Equatable, Codable {
    public var path: String
    public var reason: String
}

/// What `kb ingest` did. Field names are the stable `--json` contract.
public struct IngestSummary: Sendable, Equatable, Codable {
    public var added = 0
    public var updated = 0
    public var unchanged = 0
    public var moved = 0
    public var removed = 0
    public var chunksAdded = 0
    public var chunksReused = 0
    public var chunksRemoved = 0
    public var bytesRead = 0
    public var failed: [IngestFailure] = []
    public var skipped: [IngestSkip] = []
    public var interrupted = false
    public var seconds = 0.0
    /// The model chunks were embedded with (nil when embedding was off or unavailable).
    public var embeddingModel: String?
    /// Chunks embedded in this run.
    public var embedded = 0
    /// Chunks longer than the model's limit, embedded truncated.
    public var embeddingTruncated = 0
    /// Things the user should know that did not fail the run.
    public var warnings: [String] = []
    /// Scanned pages and images read by OCR in this run.
    public var ocrPages = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case added, updated, unchanged, moved, removed, failed, skipped, interrupted, seconds, embedded, warnings
        case ocrPages = "ocr_pages"
        case embeddingModel = "embedding_model", embeddingTruncated = "embedding_truncated"
        case chunksAdded = "chunks_added", chunksReused = "chunks_reused", chunksRemoved = "chunks_removed"
        case bytesRead = "bytes_read"
    }
}

/// Progress of an ingest, reported after each file.
public struct IngestProgress: Sendable {
    public enum Outcome: String, Sendable { case added, updated, unchanged, moved, failed, skipped, embedded, reading }
    /// `files` while reading files, `embeddings` while embedding chunks (then counts are chunks), `ocr` while one
    /// file's scanned pages are read (then counts are that file's pages and the outcome is `reading`).
    public enum Phase: String, Sendable { case files, embeddings, ocr }
    public var phase: Phase = .files
    /// Files handled so far and in total.
    public var done: Int
    public var total: Int
    /// Bytes of the files handled so far and in total.
    public var bytesDone: Int
    public var bytesTotal: Int
    public var path: String
    public var outcome: Outcome
    public var detail: String?
    public var elapsed: Double
}

/// One keyword, vector or hybrid search hit.
public struct SearchHit: Sendable, Equatable, Codable {
    public var rank: Int
    public var score: Double
    public var path: String
    public var chunkID: String
    public var documentID: Int
    public var title: String?
    public var heading: String
    public var startLine: Int
    public var endLine: Int
    public var page: Int?
    public var text: String
    /// A window of the text around the best matches.
    public var snippet: String
    /// Matched term spans in `snippet`, as [start, end) offsets in Unicode scalars.
    public var highlights: [[Int]]
    /// The query terms this passage matched (stems and CJK characters/bigrams), for explanations.
    public var matchedTerms: [String]
    /// Rank and score on the keyword and vector sides, and the fused score.
    public var explanation: RetrievalExplanation?
    /// The slide, sheet rows or OCR page (see ``Passage/locator``).
    public var locator: String?
    /// Tesseract's confidence (0–1) for OCR passages.
    public var ocrConfidence: Double?

    enum CodingKeys: String, CodingKey {
        case rank, score, path, title, heading, page, text, snippet, highlights, explanation, locator
        case chunkID = "chunk_id", documentID = "document_id", startLine = "start_line", endLine = "end_line"
        case matchedTerms = "matched_terms", ocrConfidence = "ocr_confidence"
    }
}

/// The answer to `kb search`.
public struct SearchResponse: Sendable, Equatable, Codable {
    public var query: String
    public var language: String
    public var mode: String
    public var results: [SearchHit]
    public var seconds: Double
    /// Why the search ran differently from what was asked (for example keyword-only because the model is missing).
    public var warnings: [String] = []
}

/// A source an answer cites.
public struct Citation: Sendable, Equatable, Codable {
    /// The number used in the answer text as `[id]`: the passage's rank in the prompt.
    public var id: Int
    public var path: String
    public var chunkID: String
    public var heading: String
    public var startLine: Int
    public var endLine: Int
    public var page: Int?
    /// The passage text.
    public var text: String
    /// True when the passage supports the answer sentences that cite it (kb checked).
    public var supported: Bool
    /// True when the generator cited this passage itself (false: kb added or moved the citation here).
    public var citedByGenerator: Bool
    /// The slide, sheet rows or OCR page (see ``Passage/locator``).
    public var locator: String?
    /// Tesseract's confidence (0–1) for OCR passages.
    public var ocrConfidence: Double?

    enum CodingKeys: String, CodingKey {
        case id, path, heading, page, text, supported, locator
        case chunkID = "chunk_id", startLine = "start_line", endLine = "end_line", citedByGenerator = "cited_by_generator"
        case ocrConfidence = "ocr_confidence"
    }
}

/// Which generator wrote an answer.
public struct GeneratorInfo: Sendable, Equatable, Codable {
    /// `llama`, `openai` or `extractive`.
    public var name: String
    /// The language model, when one wrote the answer.
    public var model: String?
}

/// Where the time of an answer went, in seconds.
public struct AnswerTimings: Sendable, Equatable, Codable {
    public var retrieval = 0.0
    /// Reading the prompt (language models).
    public var prompt: Double?
    /// From the start of the request to the first answer text.
    public var firstToken: Double?
    /// Rewriting a follow-up into a standalone question (conversations only).
    public var rewrite: Double?
    /// Checking citations and scoring.
    public var assessment = 0.0
    public var total = 0.0
    public var promptTokens: Int?
    public var generatedTokens: Int?
    public var tokensPerSecond: Double?
    /// Each pipeline stage's own time, in order (``AskPipeline``).
    public var stages: [StageTiming] = []

    enum CodingKeys: String, CodingKey {
        case retrieval, prompt, assessment, total, rewrite, stages
        case firstToken = "first_token", promptTokens = "prompt_tokens", generatedTokens = "generated_tokens"
        case tokensPerSecond = "tokens_per_second"
    }
}

/// One try at an answer: the first generation, or a repair after kb's check rejected the one before.
public struct AnswerAttempt: Sendable, Equatable, Codable {
    /// `initial`, or the repair strategy (``RepairStrategy``): `best-passage`, `quote`, `restated`, `extractive`.
    public var strategy: String
    /// The passage numbers (`[n]`, retrieval rank) the generator was shown.
    public var passages: [Int]
    /// The question as the generator was given it (differs from the asked one for `restated`).
    public var question: String
    /// What the generator wrote, before checking.
    public var text: String
    /// Why kb did not keep this attempt; nil for the attempt kept.
    public var rejected: String?
    /// The checked attempt's groundedness and relevance.
    public var groundedness: Double
    public var relevance: Double
    /// Seconds this attempt took (generation and check).
    public var seconds: Double

    public init(strategy: String, passages: [Int], question: String, text: String, rejected: String?,
                groundedness: Double, relevance: Double, seconds: Double) {
        self.strategy = strategy
        self.passages = passages
        self.question = question
        self.text = text
        self.rejected = rejected
        self.groundedness = groundedness
        self.relevance = relevance
        self.seconds = seconds
    }

    /// True for the attempt kb kept.
    public var accepted: Bool { rejected == nil }
}

/// The answer to `kb ask`.
public struct Answer: Sendable, Equatable, Codable {
    /// Identifies the answer (for feedback).
    public var answerID: String
    /// The conversation the answer was saved in, and its turn there (nil when not saved).
    public var conversationID: String?
    public var turn: Int?
    /// The question as asked.
    public var question: String
    /// The question kb searched with: the question itself, or a follow-up rewritten from the conversation.
    public var standaloneQuestion: String = ""
    public var language: String
    /// The checked answer with its `[n]` citations, or the "not found" message when kb abstained.
    public var answer: String
    /// True when kb declined to answer: nothing relevant retrieved, or the generated answer was not supported.
    public var abstained: Bool
    /// Why kb abstained.
    public var abstainReason: String?
    public var citations: [Citation]
    /// The answer's sentences with their support, as kb checked them.
    public var sentences: [AssessedSentence]
    public var quality: QualityScores
    /// The passages retrieved for the question, cited or not (closest passages when abstaining).
    public var passages: [SearchHit]
    public var generator: GeneratorInfo
    /// The generator's text before kb checked it.
    public var generatedText: String?
    public var timings: AnswerTimings
    /// Why the answer was produced differently from what was configured.
    public var warnings: [String] = []
    /// Every try at the answer, in order: the first generation, then the repairs (``RepairStage``) when the check
    /// would have withheld it. Empty when nothing was generated (kb abstained before generating).
    public var attempts: [AnswerAttempt] = []
    /// True when text already streamed was withdrawn and replaced (by a repaired answer or by the abstention).
    public var replaced = false

    enum CodingKeys: String, CodingKey {
        case question, language, answer, abstained, citations, sentences, quality, passages, generator, timings, warnings
        case attempts, replaced
        case answerID = "answer_id", abstainReason = "abstain_reason", generatedText = "generated_text"
        case conversationID = "conversation_id", turn, standaloneQuestion = "standalone_question"
    }
}

/// Counts and state for `kb status`.
public struct StatusReport: Sendable, Equatable, Codable {
    public struct LastIngest: Sendable, Equatable, Codable {
        public var startedAt: String
        public var finishedAt: String?
        public var status: String
        public var added: Int
        public var updated: Int
        public var unchanged: Int
        public var removed: Int
        public var failed: Int
        enum CodingKeys: String, CodingKey {
            case status, added, updated, unchanged, removed, failed
            case startedAt = "started_at", finishedAt = "finished_at"
        }
    }
    public var database: String
    public var schemaVersion: Int
    public var documents: Int
    public var chunks: Int
    public var embeddings: Int
    /// Vectors per embedding model.
    public var embeddingModels: [EmbeddingCoverage] = []
    public var databaseBytes: Int
    public var formats: [String: Int]
    public var lastIngest: LastIngest?
    public var failed: [IngestFailure]

    enum CodingKeys: String, CodingKey {
        case database, documents, chunks, embeddings, formats, failed
        case schemaVersion = "schema_version", databaseBytes = "database_bytes", lastIngest = "last_ingest"
        case embeddingModels = "embedding_models"
    }
}
