import ArgumentParser
import Foundation
import KBCore

struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Add files and folders to the knowledge base, or bring them up to date.",
        discussion: """
            Reads text, Markdown, HTML, XML, PDF (scanned pages by OCR), images (OCR), Word, PowerPoint, Excel, \
            OpenDocument, RTF, e-mail (.eml, .mbox), EPUB, CSV/TSV, source code and config files; old .doc/.xls/.ppt \
            when LibreOffice is installed; other files are listed as skipped. New chunks are embedded with the embedding model (see `kb models`). \
            Unchanged files are not read again; changed files are re-chunked; deleted files are removed. \
            With no PATH, ingests the configured knowledge folders (default: ./KnowledgeBase). \
            Exit status 3 when some files could not be ingested (they are listed with the reason).
            """
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "Files or folders to ingest.")
    var paths: [String] = []

    @Option(name: .long, help: ArgumentHelp("Skip files larger than this (default 32MiB; env KB_MAX_FILE_SIZE).", valueName: "size"))
    var maxFileSize: String?

    @Flag(name: .shortAndLong, help: "Print only the summary.")
    var quiet = false

    @Flag(name: .long, help: "Do not compute embeddings (keyword search only until the next ingest that embeds).")
    var noEmbed = false

    @Flag(name: .long, help: "Do not read scanned PDF pages and images with OCR (config: [ocr] enabled = false; env KB_OCR=0).")
    var noOcr = false

    @Option(name: .long, help: ArgumentHelp("Seconds OCR may spend on one page (default 120).", valueName: "seconds"))
    var ocrSeconds: Double?

    @Option(name: .long, help: ArgumentHelp("Scanned pages OCR reads per file (default 100).", valueName: "pages"))
    var ocrMaxPages: Int?

    func run() async throws {
        try await reportingErrors(options) {
            var limit: Int?
            if let maxFileSize {
                guard let parsed = ByteCount.parse(maxFileSize) else {
                    throw KBError(.invalidArgument, "--max-file-size \(maxFileSize) is not a size like 32MiB or 500k.")
                }
                limit = parsed
            }
            var configuration = try options.configuration(maxFileSize: limit)
            if noOcr { configuration.ocr.enabled = false }
            if let ocrSeconds {
                guard ocrSeconds > 0 else { throw KBError(.invalidArgument, "--ocr-seconds must be more than 0.") }
                configuration.ocr.secondsPerPage = ocrSeconds
            }
            if let ocrMaxPages {
                guard ocrMaxPages > 0 else { throw KBError(.invalidArgument, "--ocr-max-pages must be at least 1.") }
                configuration.ocr.maxPages = ocrMaxPages
            }
            _ = try KnowledgeBase.ingestRoots(paths, configuration: configuration)   // fail before creating a database
            let kb = try KnowledgeBase(configuration: configuration, create: true)
            Interrupts.install()
            let reporter = ProgressReporter(quiet: quiet)
            let summary = try await kb.ingest(paths: paths, embed: !noEmbed, progress: { reporter.report($0) },
                                        isCancelled: { Interrupts.requested })
            reporter.finish()
            if options.json {
                JSONOutput.print(summary)
            } else {
                printSummary(summary)
            }
            if summary.interrupted { return 130 }
            return summary.failed.isEmpty ? 0 : 3
        }
    }

    private func printSummary(_ s: IngestSummary) {
        var lines: [String] = []
        for failure in s.failed { lines.append("failed   \(Terminal.displayPath(failure.path)): \(failure.error)") }
        if !quiet { for skip in s.skipped { lines.append("skipped  \(Terminal.displayPath(skip.path)): \(skip.reason)") } }
        let total = s.added + s.updated + s.unchanged + s.moved
        lines.append(Terminal.bold("\(s.interrupted ? "Interrupted after" : "Ingested") \(total) files")
            + " in \(String(format: "%.1f", s.seconds)) s: \(s.added) added, \(s.updated) updated, \(s.unchanged) unchanged, "
            + "\(s.moved) moved, \(s.removed) removed; \(s.skipped.count) skipped, \(s.failed.count) failed. "
            + "Chunks: \(s.chunksAdded) new, \(s.chunksReused) kept, \(s.chunksRemoved) removed.")
        if let model = s.embeddingModel {
            lines.append("Embedded \(s.embedded) chunks with \(model)" + (s.embeddingTruncated > 0 ? " (\(s.embeddingTruncated) truncated at the model's limit)." : "."))
        }
        for warning in s.warnings { lines.append("warning: \(warning)") }
        if s.interrupted { lines.append("Run `kb ingest` again to continue where it stopped.") }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// Ingest progress: a bar with counts, throughput and ETA on a terminal; one line per changed file otherwise.
final class ProgressReporter: @unchecked Sendable {
    private let quiet: Bool
    private let lock = NSLock()
    private var lastDraw = 0.0
    private var drewBar = false
    private var lastEmbeddingStep = -1

    init(quiet: Bool) { self.quiet = quiet }

    func report(_ progress: IngestProgress) {
        guard !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        if Terminal.stderrIsTTY {
            guard progress.elapsed - lastDraw >= 0.1 || progress.done == progress.total else { return }
            lastDraw = progress.elapsed
            drawBar(progress)
        } else if progress.phase == .ocr {
            if progress.done > 0 {
                FileHandle.standardError.write(Data("ocr      \(Terminal.displayPath(progress.path)) page \(progress.done)/\(progress.total)\n".utf8))
            }
        } else if progress.phase == .embeddings {
            let step = max(1, progress.total / 10)
            if progress.done / step != lastEmbeddingStep || progress.done == progress.total {
                lastEmbeddingStep = progress.done / step
                FileHandle.standardError.write(Data("embedded \(progress.done)/\(progress.total) chunks with \(progress.path)\n".utf8))
            }
        } else if progress.outcome != .unchanged {
            let detail = progress.detail.map { " (\($0))" } ?? ""
            let line = "\(progress.outcome.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0))\(Terminal.displayPath(progress.path))\(detail)\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    private func drawBar(_ p: IngestProgress) {
        let fraction = min(1, p.bytesTotal > 0 ? Double(p.bytesDone) / Double(p.bytesTotal) : Double(p.done) / Double(max(1, p.total)))
        let barWidth = 24
        let filled = Int(fraction * Double(barWidth))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: barWidth - filled)
        let rate = p.elapsed > 0 ? Double(p.bytesDone) / p.elapsed : 0
        let remaining = rate > 0 ? Double(p.bytesTotal - p.bytesDone) / rate : 0
        let eta = String(format: "%d:%02d", Int(remaining) / 60, Int(remaining) % 60)
        var line: String
        switch p.phase {
        case .embeddings: line = "\(bar) \(p.done)/\(p.total) chunks embedded · \(String(format: "%.1f", rate))/s · ETA \(eta) · \(p.path)"
        case .ocr: line = "\(bar) OCR page \(p.done + 1 > p.total ? p.total : p.done + 1)/\(p.total) · \(p.detail ?? "") · \(Terminal.displayPath(p.path))"
        case .files: line = "\(bar) \(p.done)/\(p.total) files · \(ByteCount.format(Int(rate)))/s · ETA \(eta) · \(Terminal.displayPath(p.path))"
        }
        let width = Terminal.width - 1
        if line.count > width { line = String(line.prefix(width)) }
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(line)".utf8))
        drewBar = true
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        if drewBar { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }
}
