import Foundation
import KBCore
import MCP

/// The readable text of each tool result (the structured content carries the same and more).
enum ToolText {
    static func place(_ path: String, _ startLine: Int, _ endLine: Int, _ page: Int?, _ locator: String? = nil) -> String {
        if let locator { return "\(path), \(locator)" }
        let lines = startLine == endLine ? "L\(startLine)" : "L\(startLine)-L\(endLine)"
        return page.map { "\(path) p.\($0) \(lines)" } ?? "\(path):\(lines)"
    }

    static func search(_ response: SearchResponse) -> String {
        guard !response.results.isEmpty else { return "No passages match \"\(response.query)\"." + warnings(response.warnings) }
        var out = "\(response.results.count) passages for \"\(response.query)\" (\(response.mode)):\n"
        for hit in response.results {
            var why: [String] = []
            if let explanation = hit.explanation {
                if let rank = explanation.keywordRank { why.append("keyword #\(rank)") }
                if let rank = explanation.vectorRank { why.append("vector #\(rank)") }
            }
            if !hit.matchedTerms.isEmpty { why.append("matched " + hit.matchedTerms.prefix(6).joined(separator: ", ")) }
            out += "\n\(hit.rank). \(place(hit.path, hit.startLine, hit.endLine, hit.page, hit.locator))"
            if !hit.heading.isEmpty { out += " — \(hit.heading)" }
            out += String(format: " (score %.4g", hit.score) + (why.isEmpty ? ")" : "; " + why.joined(separator: "; ") + ")")
            out += " [chunk \(hit.chunkID)]\n   \(hit.snippet.replacingOccurrences(of: "\n", with: " "))\n"
        }
        return out + warnings(response.warnings)
    }

    static func answer(_ answer: Answer) -> String {
        var out: String
        if answer.abstained {
            out = "kb did not find an answer in the documents"
            if let reason = answer.abstainReason { out += ": \(reason)" }
            out += "\n"
            if !answer.passages.isEmpty {
                out += "\nClosest passages:\n"
                for hit in answer.passages.prefix(5) {
                    out += "- \(place(hit.path, hit.startLine, hit.endLine, hit.page, hit.locator)): \(hit.snippet.replacingOccurrences(of: "\n", with: " "))\n"
                }
            }
        } else {
            out = answer.answer + "\n"
            if let kept = answer.attempts.last, answer.attempts.count > 1 {
                out += kept.strategy == RepairStrategy.extractive.rawValue
                    ? "(Quoted from the passages: the model's answers did not pass kb's check.)\n"
                    : "(kb repaired the answer with the \(kept.strategy) strategy after its check rejected the first one: \(answer.attempts[0].rejected ?? "").)\n"
            }
            if !answer.citations.isEmpty {
                out += "\nSources:\n"
                for citation in answer.citations {
                    out += "[\(citation.id)] \(place(citation.path, citation.startLine, citation.endLine, citation.page))"
                    out += citation.supported ? " (supported)" : " (not supported by kb's check)"
                    out += "\n"
                }
            }
            let quality = answer.quality
            out += String(format: "\nGroundedness %.2f, relevance %.2f, retrieval confidence %.2f.", quality.groundedness,
                          quality.relevance, quality.retrievalConfidence)
        }
        if let conversation = answer.conversationID { out += "\nconversation_id: \(conversation)" }
        return out + warnings(answer.warnings)
    }

    static func excerpt(_ excerpt: Excerpt) -> String {
        var out = "\(place(excerpt.path, excerpt.startLine, excerpt.endLine, excerpt.page)) of \(excerpt.totalLines) lines"
        if excerpt.truncated { out += " (cut at \(ReadRequest.maximumLines) lines; read on from line \(excerpt.endLine + 1))" }
        if excerpt.source == "chunks" { out += " (the file changed since it was ingested: the indexed text)" }
        return out + "\n\n" + excerpt.text
    }

    static func documents(_ listing: DocumentListing) -> String {
        var out = "\(listing.total) documents"
        if listing.documents.count < listing.total { out += " (first \(listing.documents.count))" }
        out += ":\n"
        for document in listing.documents {
            out += "- [\(document.documentID)] \(document.path) (\(document.format), \(document.chunks) chunks)"
            if let title = document.title, !title.isEmpty { out += " — \(title)" }
            out += "\n"
        }
        if !listing.failed.isEmpty {
            out += "\n\(listing.failed.count) files could not be ingested:\n"
            for failure in listing.failed { out += "- \(failure.path): \(failure.error)\n" }
        }
        return out
    }

    static func status(_ status: StatusReport) -> String {
        var out = "\(status.documents) documents, \(status.chunks) chunks, \(status.embeddings) vectors (\(status.database))\n"
        for model in status.embeddingModels { out += "- \(model.model): \(model.vectors) vectors of \(model.dimension) dimensions\n" }
        if let last = status.lastIngest {
            out += "Last ingest \(last.startedAt): \(last.status), \(last.added) added, \(last.updated) updated, \(last.removed) removed, \(last.failed) failed\n"
        }
        if !status.failed.isEmpty { out += "\(status.failed.count) files failed; see list_documents.\n" }
        return out
    }

    static func warnings(_ warnings: [String]) -> String {
        warnings.isEmpty ? "" : "\n" + warnings.map { "Note: \($0)" }.joined(separator: "\n")
    }
}

/// The tools' output schemas: the fields an agent relies on, checked by the tests against what the tools return
/// (the full shapes are in `Schemas/http`).
enum OutputSchemas {
    static let place: [String: Value] = [
        "path": ["type": "string"], "heading": ["type": "string"], "start_line": ["type": "integer"],
        "end_line": ["type": "integer"], "page": ["type": "integer"], "chunk_id": ["type": "string"],
    ]

    static let hit: Value = .object([
        "type": "object",
        "required": ["rank", "score", "path", "chunk_id", "document_id", "heading", "start_line", "end_line", "snippet", "matched_terms"],
        "properties": .object(place.merging([
            "rank": ["type": "integer"], "score": ["type": "number"], "document_id": ["type": "integer"],
            "title": ["type": "string"], "text": ["type": "string"], "snippet": ["type": "string"],
            "highlights": ["type": "array", "items": ["type": "array", "items": ["type": "integer"]]],
            "matched_terms": ["type": "array", "items": ["type": "string"]],
            "explanation": [
                "type": "object",
                "description": "Why the passage was retrieved: its rank and score on the keyword and vector sides, the fused score, and the weight the fusion gave each side for this query.",
                "properties": [
                    "keyword_rank": ["type": "integer"], "keyword_score": ["type": "number"], "vector_rank": ["type": "integer"],
                    "vector_score": ["type": "number"], "fused_score": ["type": "number"],
                    "keyword_coverage": ["type": "number"], "keyword_weight": ["type": "number"], "vector_weight": ["type": "number"],
                    "translated_rank": ["type": "integer"], "translation": ["type": "string"],
                ],
            ],
        ]) { first, _ in first }),
    ])

    static let search: Value = [
        "type": "object",
        "required": ["query", "language", "mode", "results", "seconds", "warnings"],
        "properties": [
            "query": ["type": "string"], "language": ["type": "string"], "mode": ["type": "string"],
            "results": ["type": "array", "items": hit], "seconds": ["type": "number"],
            "warnings": ["type": "array", "items": ["type": "string"]],
        ],
    ]

    static let answer: Value = [
        "type": "object",
        "required": ["answer_id", "question", "answer", "abstained", "citations", "sentences", "quality", "passages"],
        "properties": [
            "answer_id": ["type": "string"], "conversation_id": ["type": "string"], "turn": ["type": "integer"],
            "question": ["type": "string"], "standalone_question": ["type": "string"], "language": ["type": "string"],
            "answer": ["type": "string", "description": "The checked answer with [n] markers, or kb's not-found message."],
            "abstained": ["type": "boolean"], "abstain_reason": ["type": "string"],
            "citations": ["type": "array", "items": [
                "type": "object",
                "required": ["id", "path", "chunk_id", "start_line", "end_line", "text", "supported"],
                "properties": .object(place.merging([
                    "id": ["type": "integer"], "text": ["type": "string"],
                    "supported": ["type": "boolean", "description": "kb checked that the passage supports the sentences citing it."],
                    "cited_by_generator": ["type": "boolean"],
                ]) { first, _ in first }),
            ]],
            "sentences": ["type": "array", "items": [
                "type": "object",
                "required": ["text", "citations", "supported", "support"],
                "properties": ["text": ["type": "string"], "citations": ["type": "array", "items": ["type": "integer"]],
                               "supported": ["type": "boolean"], "support": ["type": "number"]],
            ]],
            "quality": [
                "type": "object",
                "required": ["groundedness", "retrieval_confidence", "relevance"],
                "properties": ["groundedness": ["type": "number"], "citation_accuracy": ["type": "number"],
                               "retrieval_confidence": ["type": "number"], "relevance": ["type": "number"]],
            ],
            "passages": ["type": "array", "items": hit],
            "generator": ["type": "object", "properties": ["name": ["type": "string"], "model": ["type": "string"]]],
            "warnings": ["type": "array", "items": ["type": "string"]],
        ],
    ]

    static let excerpt: Value = [
        "type": "object",
        "required": ["document_id", "path", "format", "start_line", "end_line", "total_lines", "text", "truncated", "source", "chunks"],
        "properties": [
            "document_id": ["type": "integer"], "path": ["type": "string"], "title": ["type": "string"], "format": ["type": "string"],
            "start_line": ["type": "integer"], "end_line": ["type": "integer"], "total_lines": ["type": "integer"],
            "page": ["type": "integer"], "text": ["type": "string"], "truncated": ["type": "boolean"],
            "source": ["type": "string", "enum": ["file", "chunks"]],
            "chunks": ["type": "array", "items": ["type": "object", "properties": .object(place)]],
        ],
    ]

    static let documents: Value = [
        "type": "object",
        "required": ["documents", "total", "failed"],
        "properties": [
            "documents": ["type": "array", "items": [
                "type": "object",
                "required": ["document_id", "path", "format", "chunks"],
                "properties": ["document_id": ["type": "integer"], "path": ["type": "string"], "title": ["type": "string"],
                               "format": ["type": "string"], "chunks": ["type": "integer"], "bytes": ["type": "integer"],
                               "modified_at": ["type": "number"]],
            ]],
            "total": ["type": "integer"],
            "failed": ["type": "array", "items": ["type": "object", "properties": ["path": ["type": "string"], "error": ["type": "string"]]]],
        ],
    ]

    static let status: Value = [
        "type": "object",
        "required": ["database", "documents", "chunks", "embeddings", "failed"],
        "properties": [
            "database": ["type": "string"], "schema_version": ["type": "integer"], "documents": ["type": "integer"],
            "chunks": ["type": "integer"], "embeddings": ["type": "integer"],
            "embedding_models": ["type": "array", "items": ["type": "object", "properties": [
                "model": ["type": "string"], "dimension": ["type": "integer"], "vectors": ["type": "integer"]]]],
            "formats": ["type": "object"], "last_ingest": ["type": "object"], "failed": ["type": "array"],
        ],
    ]
}
