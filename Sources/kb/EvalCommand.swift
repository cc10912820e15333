import ArgumentParser
import Foundation
import KBCore

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure kb's quality on standard test sets.",
        subcommands: [RetrievalEval.self]
    )
}

struct RetrievalEval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrieval",
        abstract: "Retrieval quality on a BEIR-format test set: nDCG@10, recall@10, recall@100, MRR@10.",
        discussion: """
            Ingests the corpus (one document per line: _id, title, text) into the database — a temporary one \
            unless --db or KB_DB names one, in which case what is already ingested and embedded is reused — \
            then runs every judged query. --mode all runs keyword, vector and hybrid on the same database.
            """
    )

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: "corpus.jsonl") var corpus: String
    @Option(name: .long, help: "queries.jsonl") var queries: String
    @Option(name: .long, help: "qrels TSV (query-id, corpus-id, score)") var qrels: String

    @Option(name: .long, help: "keyword, vector, hybrid or all (default all).")
    var mode: String = "all"

    func run() async throws {
        try await reportingErrors(options) {
            let modes: [SearchMode]
            if mode == "all" { modes = SearchMode.allCases } else if let one = SearchMode(rawValue: mode) { modes = [one] } else {
                throw KBError(.invalidArgument, "--mode must be keyword, vector, hybrid or all.")
            }
            let dataset = try BEIRDataset.load(corpus: corpus, queries: queries, qrels: qrels)
            var configuration = try options.configuration()
            var temporary: String?
            if options.db == nil && ProcessInfo.processInfo.environment["KB_DB"] == nil {
                temporary = NSTemporaryDirectory() + "kb-eval-" + UUID().uuidString
                configuration.databasePath = temporary! + "/kb.sqlite"
            }
            defer { if let temporary { try? FileManager.default.removeItem(atPath: temporary) } }
            let kb = try KnowledgeBase(configuration: configuration, create: true)
            Interrupts.install()
            let reporter = ProgressReporter(quiet: false)
            let needsVectors = modes.contains { $0 != .keyword }
            let summary = try kb.ingest(dataset, embed: needsVectors, progress: { reporter.report($0) }, isCancelled: { Interrupts.requested })
            reporter.finish()
            if summary.interrupted { throw KBError(.interrupted, "Interrupted while ingesting the test set; run again to continue (with --db it resumes).") }
            FileHandle.standardError.write(Data("corpus: \(dataset.documents.count) documents (\(summary.added) added, \(summary.unchanged) unchanged), \(summary.embedded) chunks embedded; \(dataset.queries.count) judged queries\n".utf8))
            var results: [RetrievalMetrics] = []
            for mode in modes {
                let metrics = try kb.evaluate(dataset, mode: mode)
                results.append(metrics)
                if !options.json {
                    print(String(format: "%-8@ nDCG@10 %.4f  recall@10 %.4f  recall@100 %.4f  MRR@10 %.4f  (%d queries, %.1f s%@)",
                                 mode.rawValue as NSString, metrics.ndcg10, metrics.recall10, metrics.recall100, metrics.mrr10,
                                 metrics.queries, metrics.seconds, (metrics.model.map { ", " + $0 } ?? "") as NSString))
                }
            }
            if options.json {
                if results.count == 1 { JSONOutput.print(results[0]) } else { JSONOutput.print(["results": results]) }
            }
            return 0
        }
    }
}
