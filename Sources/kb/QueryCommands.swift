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

    @Flag(name: .long, help: "Show each hit's rank and score on the keyword and vector sides and the fused score.")
    var explain = false

    func run() async throws {
        try await reportingErrors(options) {
            if let limit, limit < 1 { throw KBError(.invalidArgument, "--limit must be at least 1.") }
            let kb = try KnowledgeBase(configuration: try options.configuration())
            let response = try kb.search(query.joined(separator: " "), limit: limit, mode: mode)
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
                print("\(Terminal.bold("\(hit.rank).")) \(Terminal.location(path: hit.path, startLine: hit.startLine, endLine: hit.endLine, page: hit.page))\(heading)  \(Terminal.dim(String(format: "score %.2f", hit.score)))")
                print("   " + Terminal.highlight(hit.snippet, hit.highlights))
                if explain, let e = hit.explanation {
                    func side(_ rank: Int?, _ score: Double?, _ format: String) -> String {
                        guard let rank, let score else { return "—" }
                        return "#\(rank) (\(String(format: format, score)))"
                    }
                    let fused = e.fusedScore.map { String(format: " · fused %.4f", $0) } ?? ""
                    let terms = hit.matchedTerms.isEmpty ? "" : " · matched: " + hit.matchedTerms.joined(separator: ", ")
                    print("   " + Terminal.dim("keyword \(side(e.keywordRank, e.keywordScore, "%.2f")) · vector \(side(e.vectorRank, e.vectorScore, "%.3f"))\(fused)\(terms)"))
                }
            }
            if explain { print(Terminal.dim("mode: \(response.mode)")) }
            return 0
        }
    }
}

struct AskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask",
        abstract: "Answer a question from the knowledge base, citing the sources.",
        discussion: "Without a language model, kb answers extractively: the sentences that best answer the question, each cited. When nothing relevant is found it says so."
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The question.")
    var question: [String] = []

    @Option(name: [.customShort("k"), .long], help: "Passages to retrieve (default 5, or ask.passages in the config file).")
    var passages: Int?

    @Option(name: .long, help: "Retrieval: keyword, vector or hybrid (default: hybrid once vectors exist).")
    var mode: SearchMode?

    func run() async throws {
        try await reportingErrors(options) {
            if let passages, passages < 1 { throw KBError(.invalidArgument, "-k must be at least 1.") }
            let kb = try KnowledgeBase(configuration: try options.configuration())
            let json = options.json
            let answer = try await kb.ask(question.joined(separator: " "), passages: passages, mode: mode) { text in
                if !json { FileHandle.standardOutput.write(Data(text.utf8)) }
            }
            if json {
                JSONOutput.print(answer)
                return 0
            }
            print("")
            if answer.abstained {
                if !answer.passages.isEmpty {
                    print("\n" + Terminal.bold("Closest passages:"))
                    for hit in answer.passages.prefix(3) {
                        print("  \(Terminal.location(path: hit.path, startLine: hit.startLine, endLine: hit.endLine, page: hit.page))"
                              + (hit.heading.isEmpty ? "" : " · \(hit.heading)"))
                    }
                }
                return 0
            }
            print("\n" + Terminal.bold("Sources:"))
            for citation in answer.citations {
                print("  [\(citation.id)] \(Terminal.location(path: citation.path, startLine: citation.startLine, endLine: citation.endLine, page: citation.page))"
                      + (citation.heading.isEmpty ? "" : " · \(citation.heading)"))
            }
            return 0
        }
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
            let status = try kb.status()
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
