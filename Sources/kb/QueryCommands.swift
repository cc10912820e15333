import ArgumentParser
import Foundation
import KBCore

struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search the knowledge base: hybrid (keyword BM25 + vectors) once vectors exist, Chinese and English.",
        discussion: "Each hit shows its file, line range, heading path and a snippet with the matched terms highlighted."
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The query.")
    var query: [String] = []

    @Option(name: [.customShort("k"), .long], help: "Number of results (default 10, or search.limit in the config file).")
    var limit: Int?

    @Option(name: .long, help: "keyword, vector or hybrid (default: hybrid once vectors exist, else keyword).")
    var mode: SearchMode?

    @Flag(name: .long, help: "Show each hit's rank and score on the keyword and vector sides, the fused score and the weight the fusion gave each side.")
    var explain = false

    func run() async throws {
        try await reportingErrors(options) {
            if let limit, limit < 1 { throw KBError(.invalidArgument, "--limit must be at least 1.") }
            let kb = try KnowledgeBase(configuration: try options.configuration())
            let response = try await KnowledgeService(knowledgeBase: kb).search(SearchRequest(query: query.joined(separator: " "), k: limit, mode: mode))
            for warning in response.warnings { Terminal.printWarning("warning: \(warning)") }
            if options.json {
                JSONOutput.print(response)
                return 0
            }
            if response.results.isEmpty {
                print("No passages match “\(response.query)”.")
                return 0
            }
            for hit in response.results {
                let heading = hit.heading.isEmpty ? "" : " · " + hit.heading
                print("\(Terminal.bold("\(hit.rank).")) \(Terminal.location(path: hit.path, startLine: hit.startLine, endLine: hit.endLine, page: hit.page, locator: hit.locator))\(heading)  \(Terminal.dim(String(format: "score %.2f", hit.score)))")
                print("   " + Terminal.highlight(hit.snippet, hit.highlights))
                if explain, let e = hit.explanation {
                    func side(_ rank: Int?, _ score: Double?, _ format: String) -> String {
                        guard let rank, let score else { return "—" }
                        return "#\(rank) (\(String(format: format, score)))"
                    }
                    let fused = e.fusedScore.map { String(format: " · fused %.4f", $0) } ?? ""
                    let terms = hit.matchedTerms.isEmpty ? "" : " · matched: " + hit.matchedTerms.joined(separator: ", ")
                    let translated = e.translatedRank.map { " · #\($0) for the translation" } ?? ""
                    print("   " + Terminal.dim("keyword \(side(e.keywordRank, e.keywordScore, "%.2f")) · vector \(side(e.vectorRank, e.vectorScore, "%.3f"))\(fused)\(translated)\(terms)"))
                }
            }
            if explain {
                var line = "mode: \(response.mode)"
                if let e = response.results.first?.explanation, let keyword = e.keywordWeight, let vector = e.vectorWeight {
                    line += String(format: " · fusion weights: keyword %.2f, vector %.2f", keyword, vector)
                    if let coverage = e.keywordCoverage { line += String(format: " (best keyword hit covers %.0f %% of the query's weighted terms)", coverage * 100) }
                }
                if let translation = response.results.lazy.compactMap({ $0.explanation?.translation }).first {
                    line += " · also searched as “\(translation)”"
                }
                print(Terminal.dim(line))
            }
            return 0
        }
    }
}

struct AskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Answer a question from the knowledge base, citing the sources.",
        discussion: """
            The answer streams as the language model writes it; kb then checks every sentence against the \
            passages, corrects wrong citations, and prints the sources and quality scores. When retrieval is \
            not confident, or the answer is not supported by the passages, kb says it found nothing and lists \
            the closest passages. --generator extractive answers without a model.
            """
    )

    @OptionGroup var options: GlobalOptions
    @OptionGroup var generation: GenerationOptions

    @Argument(help: "The question.")
    var question: [String] = []

    @Option(name: [.customShort("k"), .long], help: "Passages to retrieve (default 5, or ask.passages in the config file).")
    var passages: Int?

    @Option(name: .long, help: "Retrieval: keyword, vector or hybrid (default: hybrid once vectors exist).")
    var mode: SearchMode?

    @Flag(name: .long, help: "Show why each passage was retrieved, each sentence's support and the timings.")
    var explain = false

    @Option(name: .long, help: ArgumentHelp("Continue this conversation: a follow-up is rewritten into a standalone question from its earlier turns.", valueName: "id"))
    var conversation: String?

    func run() async throws {
        try await reportingErrors(options) {
            if let passages, passages < 1 { throw KBError(.invalidArgument, "-k must be at least 1.") }
            let kb = try KnowledgeBase(configuration: try options.configuration(generation: generation))
            let json = options.json
            Terminal.flush()
            let request = AskRequest(question: question.joined(separator: " "), conversationID: conversation, k: passages, mode: mode)
            let live = LiveText(live: !json && Terminal.stdoutIsTTY)
            let answer = try await KnowledgeService(knowledgeBase: kb).ask(request, caller: .owner, onText: { live.write($0) },
                                                                           onReplaced: { _ in live.erase() })
            for warning in answer.warnings { Terminal.printWarning("warning: \(warning)") }
            if json {
                JSONOutput.print(answer)
                return 0
            }
            AnswerPrinter.printAnswer(answer, live: live)
            AnswerPrinter.printDetails(answer, explain: explain)
            if let id = answer.conversationID {
                print(Terminal.dim("answer \(answer.answerID) · conversation \(id) (follow up with --conversation \(id); rate with kb feedback \(answer.answerID) up|down)"))
            }
            return 0
        }
    }
}

/// Prints an answer once it is checked: the final text (replacing what streamed when kb changed it), one line on
/// what kb changed, then the sources and the scores.
enum AnswerPrinter {
    /// The final answer, once, and the line saying what kb changed.
    static func printAnswer(_ answer: Answer, live: LiveText) {
        live.settle(answer.answer)
        if let change = changeLine(answer) { print(Terminal.dim(change)) }
    }

    /// One line on what kb changed between the model's text and the answer shown, or nil when nothing changed.
    static func changeLine(_ answer: Answer) -> String? {
        let initial = answer.attempts.first
        if answer.abstained {
            guard let initial, let reason = initial.rejected else { return nil }
            let tried = answer.attempts.dropFirst().map(\.strategy)
            return "kb withheld the model's answer (\(reason))" + (tried.isEmpty ? "." : "; the repairs it tried (\(tried.joined(separator: ", "))) did not pass its check either.")
        }
        if let kept = answer.attempts.last, answer.attempts.count > 1, let reason = initial?.rejected {
            let how: String
            switch RepairStrategy(rawValue: kept.strategy) {
            case .extractive?: how = "quoted the passages instead"
            case .bestPassage?: how = "asked again with passage [1] alone"
            case .quote?: how = "asked the model to quote the answering sentence"
            case .restated?: how = "asked again in the passages' language (\(kept.question))"
            case nil: how = "answered with \(kept.strategy)"
            }
            return "kb rejected the model's first answer (\(reason)) and \(how)."
        }
        let corrected = answer.sentences.filter { $0.corrected && $0.scored }.count
        let unsupported = answer.sentences.filter { $0.scored && !$0.supported }.count
        var changes: [String] = []
        if corrected > 0 { changes.append("corrected the citations of \(corrected) sentence\(corrected == 1 ? "" : "s")") }
        if unsupported > 0 { changes.append("marked \(unsupported) unsupported sentence\(unsupported == 1 ? "" : "s")") }
        return changes.isEmpty ? nil : "kb " + changes.joined(separator: " and ") + "."
    }

    static func printDetails(_ answer: Answer, explain: Bool) {
        if answer.standaloneQuestion != answer.question && !answer.standaloneQuestion.isEmpty {
            print(Terminal.dim("(searched as: \(answer.standaloneQuestion))"))
        }
        if explain && answer.attempts.count > 1 { printAttempts(answer) }
        if answer.abstained {
            if explain, let reason = answer.abstainReason {
                print(Terminal.dim(reason))
            }
            if !answer.passages.isEmpty {
                print("\n" + Terminal.bold("Closest passages:"))
                for hit in answer.passages.prefix(3) {
                    print("  \(Terminal.location(path: hit.path, startLine: hit.startLine, endLine: hit.endLine, page: hit.page, locator: hit.locator))"
                          + (hit.heading.isEmpty ? "" : " · \(hit.heading)"))
                }
            }
            if explain { printScores(answer) }
            return
        }
        let unsupported = answer.sentences.filter { $0.scored && !$0.supported }
        if !unsupported.isEmpty {
            print("\n" + Terminal.bold("Not supported by the passages:"))
            for sentence in unsupported { print("  – \(sentence.text)") }
        }
        print("\n" + Terminal.bold("Sources:"))
        for citation in answer.citations {
            let mark = citation.supported ? "" : Terminal.dim(" (cited by the model, does not support the answer)")
            print("  [\(citation.id)] \(Terminal.location(path: citation.path, startLine: citation.startLine, endLine: citation.endLine, page: citation.page, locator: citation.locator))"
                  + (citation.heading.isEmpty ? "" : " · \(citation.heading)") + mark)
        }
        if explain {
            print("\n" + Terminal.bold("Sentences:"))
            for sentence in answer.sentences {
                let state = !sentence.scored ? "not scored" : sentence.supported ? "supported" : "unsupported"
                let fix = !sentence.corrected ? "" : sentence.generatorCitations.isEmpty ? ", citation added by kb"
                    : ", citation corrected from \(sentence.generatorCitations.map { "[\($0)]" }.joined())"
                print("  " + Terminal.dim("\(state) (support \(String(format: "%.2f", sentence.support))\(fix)): ") + sentence.text)
            }
            print("\n" + Terminal.bold("Retrieved passages:"))
            for hit in answer.passages {
                var why = hit.matchedTerms.isEmpty ? "" : "matched " + hit.matchedTerms.prefix(8).joined(separator: ", ")
                if let e = hit.explanation {
                    why += (why.isEmpty ? "" : "; ") + [e.keywordRank.map { "keyword #\($0)" }, e.vectorRank.map { "vector #\($0)" }]
                        .compactMap { $0 }.joined(separator: ", ")
                }
                print("  [\(hit.rank)] \(Terminal.location(path: hit.path, startLine: hit.startLine, endLine: hit.endLine, page: hit.page, locator: hit.locator))  " + Terminal.dim(why))
            }
        }
        printScores(answer)
        if explain { printTimings(answer) }
    }

    /// Every try at the answer, with why kb rejected it.
    static func printAttempts(_ answer: Answer) {
        print("\n" + Terminal.bold("Attempts:"))
        for (index, attempt) in answer.attempts.enumerated() {
            let passages = attempt.passages.map { "[\($0)]" }.joined()
            let verdict = attempt.rejected.map { "rejected: \($0)" } ?? "kept"
            print("  \(index + 1). \(attempt.strategy) · passages \(passages.isEmpty ? "none" : passages) · "
                  + String(format: "%.2f s · grounded %.2f · ", attempt.seconds, attempt.groundedness) + verdict)
            let text = CitationMarkersDisplay.oneLine(attempt.text)
            if !text.isEmpty { print("     " + Terminal.dim(text)) }
        }
    }

    static func printSources(_ answer: Answer) {
        if answer.citations.isEmpty {
            print("No sources cited." + (answer.passages.isEmpty ? "" : " Closest passages:"))
            for hit in answer.passages.prefix(3) {
                print("  \(Terminal.location(path: hit.path, startLine: hit.startLine, endLine: hit.endLine, page: hit.page, locator: hit.locator))"
                      + (hit.heading.isEmpty ? "" : " · \(hit.heading)"))
            }
            return
        }
        for citation in answer.citations {
            print("[\(citation.id)] " + Terminal.bold(Terminal.location(path: citation.path, startLine: citation.startLine, endLine: citation.endLine, page: citation.page, locator: citation.locator))
                  + (citation.heading.isEmpty ? "" : " · \(citation.heading)") + (citation.supported ? "" : Terminal.dim(" (does not support the answer)")))
            print("    " + citation.text.replacingOccurrences(of: "\n", with: "\n    "))
        }
    }

    static func printScores(_ answer: Answer) {
        let q = answer.quality
        let accuracy = q.citationAccuracy.map { String(format: "%.2f", $0) } ?? "—"
        print(Terminal.dim(String(format: "quality: grounded %.2f · citation accuracy %@ · retrieval confidence %.2f · relevance %.2f · %@%@",
                                  q.groundedness, accuracy, q.retrievalConfidence, q.relevance, answer.generator.name,
                                  answer.generator.model.map { " " + $0 } ?? "")))
    }

    static func printTimings(_ answer: Answer) {
        let t = answer.timings
        var parts = [String(format: "retrieval %.2f s", t.retrieval)]
        if let prompt = t.prompt { parts.append(String(format: "prompt %.2f s (%d tokens)", prompt, t.promptTokens ?? 0)) }
        if let first = t.firstToken { parts.append(String(format: "first token %.2f s", first)) }
        if let rate = t.tokensPerSecond { parts.append(String(format: "%.1f tokens/s", rate)) }
        parts.append(String(format: "total %.2f s", t.total))
        print(Terminal.dim("timings: " + parts.joined(separator: " · ")))
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the database, its documents and chunks, the last ingest and files that failed."
    )

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await reportingErrors(options) {
            let kb = try KnowledgeBase(configuration: try options.configuration())
            let status = try await KnowledgeService(knowledgeBase: kb).status()
            if options.json {
                JSONOutput.print(status)
                return 0
            }
            print("Database:   \(status.database) (\(ByteCount.format(status.databaseBytes)), schema v\(status.schemaVersion))")
            let formats = status.formats.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            print("Documents:  \(status.documents)" + (formats.isEmpty ? "" : " (\(formats))"))
            print("Chunks:     \(status.chunks)")
            let perModel = status.embeddingModels.map { "\($0.vectors) \($0.model)" }.joined(separator: ", ")
            print("Embeddings: \(status.embeddings)" + (perModel.isEmpty ? "" : " (\(perModel))"))
            if let last = status.lastIngest {
                print("Last ingest: \(last.startedAt), \(last.status): \(last.added) added, \(last.updated) updated, "
                      + "\(last.unchanged) unchanged, \(last.removed) removed, \(last.failed) failed")
            } else {
                print("Last ingest: never")
            }
            if !status.failed.isEmpty {
                print("Failed files (\(status.failed.count)):")
                for failure in status.failed { print("  \(Terminal.displayPath(failure.path)): \(failure.error)") }
            }
            return 0
        }
    }
}

extension SearchMode: ExpressibleByArgument {}

/// Attempt text on one line, shortened.
enum CitationMarkersDisplay {
    static func oneLine(_ text: String, limit: Int = 160) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flat.count > limit ? String(flat.prefix(limit)) + "…" : flat
    }
}
