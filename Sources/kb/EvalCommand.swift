import ArgumentParser
import Foundation
import KBCore

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure kb's quality on standard test sets.",
        subcommands: [RetrievalEval.self, QAEval.self]
    )
}

struct RetrievalEval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrieval",
        abstract: "Retrieval quality on a BEIR-format test set: nDCG@10, recall@5, recall@10, recall@100, MRR@10.",
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
            let temporary = EvalDatabase.useTemporaryUnlessNamed(options, &configuration)
            defer { EvalDatabase.remove(temporary) }
            let kb = try KnowledgeBase(configuration: configuration, create: true)
            Interrupts.install()
            let reporter = ProgressReporter(quiet: false)
            let needsVectors = modes.contains { $0 != .keyword }
            let summary = try await kb.ingest(dataset, embed: needsVectors, progress: { reporter.report($0) }, isCancelled: { Interrupts.requested })
            reporter.finish()
            if summary.interrupted { throw KBError(.interrupted, "Interrupted while ingesting the test set; run again to continue (with --db it resumes).") }
            FileHandle.standardError.write(Data("corpus: \(dataset.documents.count) documents (\(summary.added) added, \(summary.unchanged) unchanged), \(summary.embedded) chunks embedded; \(dataset.queries.count) judged queries\n".utf8))
            var results: [RetrievalMetrics] = []
            for mode in modes {
                let metrics = try await kb.evaluate(dataset, mode: mode)
                results.append(metrics)
                if !options.json {
                    print(String(format: "%-8@ nDCG@10 %.4f  recall@5 %.4f  recall@10 %.4f  recall@100 %.4f  MRR@10 %.4f  (%d queries, %.1f s%@)",
                                 mode.rawValue as NSString, metrics.ndcg10, metrics.recall5, metrics.recall10, metrics.recall100, metrics.mrr10,
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

struct QAEval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qa",
        abstract: "Answer quality on a SQuAD-format set: exact match, F1, abstention, citation accuracy, latency.",
        discussion: """
            Ingests the file's paragraphs (a temporary database unless --db or KB_DB names one; then ingest and \
            embeddings are reused), asks every question with the configured generator and scores the answers: \
            exact match and F1 as the official scripts define them (CMRC 2018 for Chinese, SQuAD for English), \
            abstention on answerable questions and on unanswerable ones (is_impossible, or asked after their \
            paragraph was withheld with --withhold), how often the gold paragraph is cited, and latency.
            """
    )

    @OptionGroup var options: GlobalOptions
    @OptionGroup var generation: GenerationOptions

    @Option(name: .long, help: "The SQuAD-format JSON file.") var squad: String
    @Option(name: .long, help: "Ask only the first N questions.") var limit: Int?
    @Option(name: .long, help: "Withhold the gold paragraphs of at least N of the questions (default 0), making them unanswerable.")
    var withhold: Int = 0
    @Option(name: [.customShort("k"), .long], help: "Passages per question (default 5).") var passages: Int?
    @Flag(name: .long, help: "Include every question's answer and scores in the JSON.") var perQuestion = false

    func run() async throws {
        try await reportingErrors(options) {
            if let limit, limit < 1 { throw KBError(.invalidArgument, "--limit must be at least 1.") }
            if withhold < 0 { throw KBError(.invalidArgument, "--withhold cannot be negative.") }
            let dataset = try SQuADDataset.load(squad)
            let (questions, withheld) = dataset.plan(limit: limit, withhold: withhold)
            var configuration = try options.configuration(generation: generation)
            let temporary = EvalDatabase.useTemporaryUnlessNamed(options, &configuration)
            defer { EvalDatabase.remove(temporary) }
            let kb = try KnowledgeBase(configuration: configuration, create: true)
            Interrupts.install()
            let reporter = ProgressReporter(quiet: false)
            let summary = try await kb.ingest(dataset, withholding: withheld, embed: true, progress: { reporter.report($0) },
                                        isCancelled: { Interrupts.requested })
            reporter.finish()
            if summary.interrupted { throw KBError(.interrupted, "Interrupted while ingesting; run again to continue (with --db it resumes).") }
            for warning in summary.warnings { Terminal.printWarning("warning: \(warning)") }
            FileHandle.standardError.write(Data("paragraphs: \(dataset.paragraphs.count - withheld.count) ingested, \(withheld.count) withheld; asking \(questions.count) questions\n".utf8))
            let progressLine = Terminal.stderrIsTTY
            var metrics = try await kb.evaluate(dataset, questions: questions, withheld: withheld, passages: passages,
                                                progress: { done, total, result in
                if progressLine {
                    FileHandle.standardError.write(Data("\r\(done)/\(total) \(String(format: "%.1f", result.seconds)) s   ".utf8))
                } else if done % 20 == 0 || done == total {
                    FileHandle.standardError.write(Data("\(done)/\(total)\n".utf8))
                }
            }, isCancelled: { Interrupts.requested })
            if progressLine { FileHandle.standardError.write(Data("\n".utf8)) }
            if !perQuestion { metrics.perQuestion = [] }
            if options.json {
                JSONOutput.print(metrics)
                return Interrupts.requested ? 130 : 0
            }
            func pct(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }
            print("generator: \(metrics.generator.name)\(metrics.generator.model.map { " (" + $0 + ")" } ?? "")")
            print("questions: \(metrics.questions) (\(metrics.answerable) answerable, \(metrics.unanswerable) unanswerable)")
            print("EM \(pct(metrics.exactMatch))  F1 \(pct(metrics.f1))   (answered only: EM \(pct(metrics.exactMatchAnswered)), F1 \(pct(metrics.f1Answered)))")
            print("abstained: \(pct(metrics.abstentionAnswerable)) of answerable, \(pct(metrics.abstentionUnanswerable)) of unanswerable")
            print("gold paragraph cited: \(pct(metrics.goldCitationRate)) of answered; generator's own citations correct: \(metrics.generatorCitationAccuracy.map(pct) ?? "—")")
            print(String(format: "latency: p50 %.2f s, p90 %.2f s, p99 %.2f s", metrics.latencyP50, metrics.latencyP90, metrics.latencyP99)
                  + (metrics.firstTokenP50.map { String(format: "; first token p50 %.2f s", $0) } ?? "")
                  + String(format: "; answered p50 %.2f s, p90 %.2f s", metrics.answeredLatencyP50, metrics.answeredLatencyP90))
            if metrics.initialRejected > 0 {
                let each = metrics.rescues.map { "\($0.strategy) \($0.rescued) (\($0.wrong) wrong)" }.joined(separator: ", ")
                print("repair: the check rejected \(metrics.initialRejected) first answers; rescued \(pct(metrics.rescueRate))"
                      + (each.isEmpty ? "" : " — " + each))
            }
            if let t = metrics.calibratedThreshold, let b = metrics.calibratedBalancedAccuracy {
                print(String(format: "retrieval confidence: best threshold here %.2f (balanced accuracy %.3f); kb uses %.2f", t, b, RetrievalConfidence.threshold))
            }
            return Interrupts.requested ? 130 : 0
        }
    }
}

/// The database an evaluation ingests into: a temporary one, unless --db or KB_DB names one (which is then
/// reused incrementally, so re-runs never re-ingest or re-embed).
enum EvalDatabase {
    /// Points the configuration at a new temporary folder when no database was named; returns that folder.
    static func useTemporaryUnlessNamed(_ options: GlobalOptions, _ configuration: inout Configuration) -> String? {
        guard options.db == nil && ProcessInfo.processInfo.environment["KB_DB"] == nil else { return nil }
        let folder = NSTemporaryDirectory() + "kb-eval-" + UUID().uuidString
        configuration.databasePath = folder + "/kb.sqlite"
        return folder
    }

    static func remove(_ folder: String?) {
        if let folder { try? FileManager.default.removeItem(atPath: folder) }
    }
}
