import Foundation

/// Brings the store up to date with a set of files and folders.
///
/// Incremental: a file whose size and modification time are unchanged is not read; a file whose
/// bytes hash the same is not re-parsed; a changed file is re-chunked and its unchanged chunks keep
/// their ids; a file that disappeared is removed; a file that moved is recognised by its hash.
/// Each file is written in its own transaction, so an interrupted run leaves every file either as
/// it was or fully updated, and the next run continues where it stopped.
public struct Ingestor: Sendable {
    let store: any KnowledgeStore
    let registry: LoaderRegistry
    let chunker: any Chunker
    let maxFileSize: Int
    /// Embeds new chunks after the files are read; nil for keyword-only ingest.
    let embedding: EmbeddingIndexer?
    /// OCR of scanned PDF pages and images.
    let ocr: OCROptions

    public init(store: any KnowledgeStore, registry: LoaderRegistry = .standard, chunker: any Chunker, maxFileSize: Int,
                embedding: EmbeddingIndexer? = nil, ocr: OCROptions = OCROptions()) {
        self.store = store
        self.registry = registry
        self.chunker = chunker
        self.maxFileSize = maxFileSize
        self.embedding = embedding
        self.ocr = ocr
    }

    /// Ingests `paths` (absolute files or folders).
    ///
    /// - Parameters:
    ///   - progress: called after each file.
    ///   - isCancelled: polled between files; when it returns true the run stops cleanly.
    public func ingest(paths: [String], progress: @escaping @Sendable (IngestProgress) -> Void = { _ in },
                       isCancelled: @Sendable () -> Bool = { false }) async throws(KBError) -> IngestSummary {
        let started = Date()
        for path in paths where FileInfo.stat(path) == nil { throw KBError.pathNotFound(path) }
        let lease = try await store.acquireIngestLease()
        defer { withExtendedLifetime(lease) {} }

        let runID = try await store.beginIngestRun(roots: paths)
        var summary = IngestSummary()
        var counts = IngestRunCounts()
        do {
            try await run(paths: paths, runID: runID, started: started, summary: &summary, counts: &counts,
                    progress: progress, isCancelled: isCancelled)
            if let embedding, !summary.interrupted {
                summary.embeddingModel = embedding.embedder.model
                let result = try await embedding.run(started: started, progress: progress, isCancelled: isCancelled)
                summary.embedded = result.embedded
                summary.embeddingTruncated = result.truncated
                summary.interrupted = result.interrupted
                if result.truncated > 0 {
                    summary.warnings.append("\(result.truncated) chunks were longer than \(embedding.embedder.model)'s limit of \(embedding.embedder.maxTokens) tokens and were embedded truncated.")
                }
            }
        } catch {
            try? await store.finishIngestRun(id: runID, counts: counts, status: "failed")
            throw error
        }
        summary.seconds = Date().timeIntervalSince(started)
        try await store.finishIngestRun(id: runID, counts: counts, status: summary.interrupted ? "interrupted" : "completed")
        return summary
    }

    private func run(paths: [String], runID: Int, started: Date, summary: inout IngestSummary, counts: inout IngestRunCounts,
                     progress: @escaping @Sendable (IngestProgress) -> Void, isCancelled: @Sendable () -> Bool) async throws(KBError) {
        let database = store.location
        let databaseFolder = (database as NSString).deletingLastPathComponent
        let rootsContainingDatabaseFolder = paths.contains { databaseFolder.hasPrefix($0 + "/") }
        let walker = FileWalker(
            registry: registry,
            excludedFiles: [database, database + "-wal", database + "-shm", database + "-journal", database + ".lock"],
            excludedFolders: rootsContainingDatabaseFolder ? [databaseFolder] : []
        )
        let walk = walker.walk(paths)
        summary.skipped = walk.skipped
        summary.failed = walk.failed
        counts.failed += walk.failed.count
        for failure in walk.failed { try await store.recordFailure(path: failure.path, reason: failure.error, runID: runID) }
        let previouslyFailed = Set(try await store.failures().map(\.path))

        let stored = try await store.documents()
        var byPath: [String: DocumentRecord] = [:]
        var byHash: [String: [DocumentRecord]] = [:]
        var attachments: [String: [DocumentRecord]] = [:]
        for document in stored {
            byPath[document.path] = document
            if let parent = Self.containerPath(of: document.path) {
                attachments[parent, default: []].append(document)
            } else {
                byHash[document.contentHash, default: []].append(document)
            }
        }
        let walkedPaths = Set(walk.files.map(\.path))
        let bytesTotal = walk.files.reduce(0) { $0 + $1.size }
        var bytesDone = 0
        var movedFrom = Set<String>()

        for (index, file) in walk.files.enumerated() {
            if isCancelled() { summary.interrupted = true; break }
            let filesDone = index, filesTotal = walk.files.count, bytesBefore = bytesDone
            let context = LoadContext(ocr: ocr, registry: registry, pageProgress: { done, total in
                progress(IngestProgress(phase: .ocr, done: done, total: total, bytesDone: bytesBefore, bytesTotal: bytesTotal,
                                        path: file.path, outcome: .reading, detail: "file \(filesDone + 1) of \(filesTotal)",
                                        elapsed: Date().timeIntervalSince(started)))
            })
            let outcome = try await ingestFile(file, existing: byPath[file.path], byHash: byHash, walkedPaths: walkedPaths,
                                         movedFrom: &movedFrom, runID: runID, context: context, attachments: attachments,
                                         summary: &summary)
            // A file that failed before and is fine now (its old version was kept) is no longer failed.
            if outcome.kind == .unchanged && previouslyFailed.contains(file.path) { try await store.clearFailures(paths: [file.path]) }
            bytesDone += file.size
            switch outcome.kind {
            case .added: counts.added += 1
            case .updated: counts.updated += 1
            case .unchanged: counts.unchanged += 1
            case .moved: counts.moved += 1
            case .failed: counts.failed += 1
            case .skipped: counts.skipped += 1
            case .embedded, .reading: break
            }
            progress(IngestProgress(done: index + 1, total: walk.files.count, bytesDone: bytesDone, bytesTotal: bytesTotal,
                                    path: file.path, outcome: outcome.kind, detail: outcome.detail,
                                    elapsed: Date().timeIntervalSince(started)))
        }

        // Files that are gone: only when the whole walk finished and their folder could be listed.
        if !summary.interrupted {
            for document in stored where !walkedPaths.contains(document.path) && !movedFrom.contains(document.path) {
                guard paths.contains(where: { document.path == $0 || document.path.hasPrefix($0 + "/") }) else { continue }
                // An attachment lives and goes with its container (a walked container's are handled with its file).
                let container = Self.containerPath(of: document.path)
                if let container, walkedPaths.contains(container) || movedFrom.contains(container) { continue }
                let file = container ?? document.path
                guard !walk.unreadableFolders.contains(where: { document.path.hasPrefix($0 + "/") }) else { continue }
                // Only a file that is really gone, or now hidden or unsupported, leaves the index; one that
                // cannot be examined (permissions, I/O errors) keeps its document.
                let hidden = file.split(separator: "/").contains(where: { $0.hasPrefix(".") })
                let unsupported = walker.registry.loader(for: URL(fileURLWithPath: file)) == nil
                guard FileInfo.isMissing(file) || hidden || unsupported else { continue }
                summary.chunksRemoved += try await store.removeDocument(id: document.id)
                if container == nil {
                    summary.removed += 1
                    counts.removed += 1
                }
            }
            let stale = try await store.failures().map(\.path).filter { path in
                paths.contains { path == $0 || path.hasPrefix($0 + "/") } && FileInfo.isMissing(path)
            }
            try await store.clearFailures(paths: stale)
        }
    }

    private struct Outcome {
        var kind: IngestProgress.Outcome
        var detail: String?
    }

    private func ingestFile(_ file: WalkedFile, existing: DocumentRecord?, byHash: [String: [DocumentRecord]],
                            walkedPaths: Set<String>, movedFrom: inout Set<String>, runID: Int, context: LoadContext,
                            attachments: [String: [DocumentRecord]], summary: inout IngestSummary) async throws(KBError) -> Outcome {
        guard let loader = registry.loader(for: URL(fileURLWithPath: file.path)) else {
            return Outcome(kind: .skipped, detail: "unsupported")
        }
        let fingerprint = "\(loader.format)-v\(loader.version(for: context))/\(chunker.fingerprint)"

        func fail(_ failure: LoadFailure) async throws(KBError) -> Outcome {
            if failure.isSkip {
                summary.skipped.append(IngestSkip(path: file.path, reason: failure.description))
                if let existing { summary.chunksRemoved += try await store.removeDocument(id: existing.id) }
                for child in attachments[file.path] ?? [] { summary.chunksRemoved += try await store.removeDocument(id: child.id) }
                try await store.clearFailures(paths: [file.path])
                return Outcome(kind: .skipped, detail: failure.description)
            }
            summary.failed.append(IngestFailure(path: file.path, error: failure.description))
            try await store.recordFailure(path: file.path, reason: failure.description, runID: runID)
            return Outcome(kind: .failed, detail: failure.description)
        }

        if let existing, existing.size == file.size, existing.modifiedAt == file.modifiedAt, existing.fingerprint == fingerprint {
            summary.unchanged += 1
            return Outcome(kind: .unchanged)
        }
        if file.size > maxFileSize { return try await fail(.tooLarge(size: file.size, limit: maxFileSize)) }

        let data: Data
        switch FileInfo.read(file.path) {
        case .success(let bytes): data = bytes
        case .failure(let failure): return try await fail(failure)
        }
        summary.bytesRead += data.count
        let hash = SHA256.hex(data)

        if let existing, existing.contentHash == hash, existing.fingerprint == fingerprint {
            try await store.touchDocument(id: existing.id, size: file.size, modifiedAt: file.modifiedAt)
            summary.unchanged += 1
            return Outcome(kind: .unchanged)
        }
        // A file that moved: the same bytes as a document whose file is gone.
        var renamedFrom: DocumentRecord?
        if existing == nil, let original = byHash[hash]?.first(where: {
            $0.fingerprint == fingerprint && !walkedPaths.contains($0.path) && !movedFrom.contains($0.path) && FileInfo.isMissing($0.path)
        }) {
            movedFrom.insert(original.path)
            if (original.path as NSString).lastPathComponent == (file.path as NSString).lastPathComponent {
                try await store.moveDocument(id: original.id, to: file.path, modifiedAt: file.modifiedAt)
                for child in attachments[original.path] ?? [] {
                    try await store.moveDocument(id: child.id, to: file.path + child.path.dropFirst(original.path.count), modifiedAt: file.modifiedAt)
                }
                summary.moved += 1
                return Outcome(kind: .moved, detail: "from \(original.path)")
            }
            // Renamed: headings and titles can contain the file name, so it is re-chunked in place;
            // chunks whose text is unchanged keep their ids and vectors.
            renamedFrom = original
        }

        let extracted: ExtractedDocument
        let url = URL(fileURLWithPath: file.path)
        do { extracted = try (registry.loader(for: url, content: data) ?? loader).load(data, url: url, context: context) } catch {
            return try await fail(error)
        }
        var warnings = extracted.warnings
        // UTF-8 bytes (counted at once) bound the scalars (counted by walking the text): most files skip the walk.
        if extracted.text.utf8.count >= DocumentTextBuilder.maximumScalars
            && extracted.text.unicodeScalars.count >= DocumentTextBuilder.maximumScalars {
            warnings.append("only the first \(DocumentTextBuilder.maximumScalars / 1_000_000) million characters were indexed")
        }
        for warning in warnings { summary.warnings.append("\(file.path): \(warning)") }
        summary.ocrPages += extracted.ocrPages
        let drafts = chunker.chunk(extracted)
        guard !drafts.isEmpty else { return try await fail(.noText) }
        let prepared = drafts.map(PreparedChunk.init)
        let replacing = existing?.id ?? renamedFrom?.id
        // Attachments first: should the process stop between the two, the container is read again next time.
        let attached = try await saveAttachments(extracted.attachments, container: file, fingerprint: fingerprint,
                                                 stored: attachments[existing?.path ?? renamedFrom?.path ?? file.path] ?? [],
                                                 summary: &summary)
        let record = DocumentRecord(id: replacing ?? 0, path: file.path, contentHash: hash, size: file.size,
                                    modifiedAt: file.modifiedAt, format: extracted.format, encoding: extracted.encoding,
                                    title: extracted.title, fingerprint: fingerprint, chunkCount: drafts.count,
                                    ingestedAt: Date().timeIntervalSince1970)
        let stats = try await store.saveDocument(record, chunks: prepared, replacing: replacing)
        summary.chunksAdded += stats.inserted
        summary.chunksReused += stats.reused
        summary.chunksRemoved += stats.removed
        var detail = extracted.encoding.map { "\(drafts.count) chunks, \($0)" } ?? "\(drafts.count) chunks"
        if attached > 0 { detail += ", \(attached) \(attached == 1 ? "attachment" : "attachments")" }
        if extracted.ocrPages > 0 { detail += ", \(extracted.ocrPages) \(extracted.ocrPages == 1 ? "page" : "pages") by OCR" }
        if !warnings.isEmpty { detail += "; " + warnings.joined(separator: "; ") }
        if let renamedFrom {
            summary.moved += 1
            return Outcome(kind: .moved, detail: "from \(renamedFrom.path), \(detail)")
        }
        if existing != nil {
            summary.updated += 1
            return Outcome(kind: .updated, detail: detail)
        }
        summary.added += 1
        return Outcome(kind: .added, detail: detail)
    }

    /// The container's path of an attachment's document path ("mail.eml › report.pdf" → "mail.eml"), else nil.
    static func containerPath(of path: String) -> String? {
        path.range(of: ExtractedDocument.attachmentSeparator).map { String(path[..<$0.lowerBound]) }
    }

    /// Stores a container's attachments as documents of their own and removes its attachments that are gone;
    /// returns how many were stored.
    private func saveAttachments(_ attachments: [ExtractedDocument.Attachment], container file: WalkedFile, fingerprint: String,
                                 stored: [DocumentRecord], summary: inout IngestSummary) async throws(KBError) -> Int {
        var kept = Set<Int>()
        var saved = 0
        for attachment in attachments {
            let path = file.path + ExtractedDocument.attachmentSeparator + attachment.name
            let drafts = chunker.chunk(attachment.document)
            guard !drafts.isEmpty else { continue }
            let existing = stored.first { document in
                document.path.range(of: ExtractedDocument.attachmentSeparator).map { String(document.path[$0.upperBound...]) } == attachment.name
            }
            if let existing { kept.insert(existing.id) }
            let record = DocumentRecord(id: existing?.id ?? 0, path: path, contentHash: SHA256.hex(Data(attachment.document.text.utf8)),
                                        size: attachment.document.text.utf8.count, modifiedAt: file.modifiedAt,
                                        format: attachment.document.format, encoding: attachment.document.encoding,
                                        title: attachment.document.title, fingerprint: fingerprint, chunkCount: drafts.count,
                                        ingestedAt: Date().timeIntervalSince1970)
            let stats = try await store.saveDocument(record, chunks: drafts.map(PreparedChunk.init), replacing: existing?.id)
            summary.chunksAdded += stats.inserted
            summary.chunksReused += stats.reused
            summary.chunksRemoved += stats.removed
            saved += 1
        }
        for child in stored where !kept.contains(child.id) { summary.chunksRemoved += try await store.removeDocument(id: child.id) }
        return saved
    }
}
