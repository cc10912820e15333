import ArgumentParser
import Foundation
import KBCore

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "A conversation with the knowledge base: follow-up questions are understood in context.",
        discussion: """
            On a terminal: type a question and press Enter; the answer streams, then its sources. Commands: \\
            /sources (the last answer's sources), /explain (its sentences, support and retrieval), /new (a new \\
            conversation), /history (this conversation's turns), /quit. When standard input is not a terminal, \\
            each line is a question (with --json, one JSON answer per line).
            """
    )

    @OptionGroup var options: GlobalOptions
    @OptionGroup var generation: GenerationOptions

    @Option(name: .long, help: ArgumentHelp("Continue this conversation.", valueName: "id"))
    var conversation: String?

    @Option(name: [.customShort("k"), .long], help: "Passages to retrieve per question (default 5).")
    var passages: Int?

    func run() async throws {
        try await reportingErrors(options) {
            let kb = try KnowledgeBase(configuration: try options.configuration(generation: generation))
            var conversationID = conversation
            let service = try KnowledgeService(knowledgeBase: kb)
            if let conversationID { _ = try await service.conversation(id: conversationID, caller: .owner) }
            let interactive = Terminal.stdinIsTTY && !options.json
            var last: Answer?
            if interactive {
                print(Terminal.dim("kb chat — ask a question; /sources /explain /new /history /quit"))
            }
            while true {
                Terminal.flush()
                if interactive { FileHandle.standardOutput.write(Data(Terminal.bold("» ").utf8)) }
                guard let line = readLine(strippingNewline: true) else { break }
                let input = line.trimmingCharacters(in: .whitespaces)
                if input.isEmpty { continue }
                if input.hasPrefix("/") {
                    switch input.lowercased() {
                    case "/quit", "/exit", "/q":
                        return 0
                    case "/new":
                        conversationID = nil
                        last = nil
                        print(Terminal.dim("New conversation."))
                    case "/sources":
                        if let last { AnswerPrinter.printSources(last) } else { print("No answer yet.") }
                    case "/explain":
                        if let last { AnswerPrinter.printDetails(last, explain: true) } else { print("No answer yet.") }
                    case "/history":
                        guard let conversationID else { print("No conversation yet."); break }
                        for turn in try await kb.conversation(id: conversationID).turns {
                            print(Terminal.bold("\(turn.turn). \(turn.question)")
                                  + (turn.standaloneQuestion != turn.question ? Terminal.dim("  (searched as: \(turn.standaloneQuestion))") : ""))
                            print("   " + turn.answer.replacingOccurrences(of: "\n", with: "\n   "))
                        }
                    default:
                        print("Unknown command \(input); use /sources, /explain, /new, /history or /quit.")
                    }
                    continue
                }
                let json = options.json
                do {
                    let live = LiveText(live: !json && Terminal.stdoutIsTTY)
                    let answer = try await service.ask(AskRequest(question: input, conversationID: conversationID, k: passages), caller: .owner,
                                                       onText: { live.write($0) }, onReplaced: { _ in live.erase() })
                    conversationID = answer.conversationID ?? conversationID
                    last = answer
                    for warning in answer.warnings { Terminal.printWarning("warning: \(warning)") }
                    if json {
                        JSONOutput.printLine(answer)
                    } else {
                        AnswerPrinter.printAnswer(answer, live: live)
                        AnswerPrinter.printDetails(answer, explain: false)
                        print(Terminal.dim("answer \(answer.answerID)"))
                        print("")
                    }
                } catch let error as KBError where error.code == .invalidArgument {
                    // A bad line (an empty question) does not end the conversation.
                    Terminal.printError(error.message)
                }
            }
            return 0
        }
    }
}

struct FeedbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedback",
        abstract: "Rate an answer (kb feedback ANSWER_ID up|down [--comment TEXT]), or see the ratings (kb feedback report).",
        subcommands: [RateCommand.self, FeedbackReportCommand.self],
        defaultSubcommand: RateCommand.self
    )
}

struct RateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rate",
        abstract: "Rate an answer up or down. Answer ids are printed by kb ask and kb chat (--json: answer_id)."
    )

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The answer id (a_…).") var answerID: String
    @Argument(help: "up or down.") var rating: String
    @Option(name: .long, help: "Why: what was wrong or missing.") var comment: String?

    func run() async throws {
        try await reportingErrors(options) {
            let up: Bool
            switch rating.lowercased() {
            case "up", "+", "+1", "good", "👍": up = true
            case "down", "-", "-1", "bad", "👎": up = false
            default: throw KBError(.invalidArgument, "The rating is up or down, not \(rating).")
            }
            let kb = try KnowledgeBase(configuration: try options.configuration())
            _ = try await KnowledgeService(knowledgeBase: kb).rate(FeedbackRequest(answerID: answerID, rating: up ? "up" : "down", comment: comment), caller: .owner)
            if options.json {
                JSONOutput.print(["answer_id": answerID, "rating": up ? "up" : "down"])
            } else {
                print("Recorded: \(answerID) \(up ? "up" : "down")\(comment.map { " — \($0)" } ?? "").")
            }
            return 0
        }
    }
}

struct FeedbackReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Ratings over time and the worst-rated questions with their sources and quality scores."
    )

    @OptionGroup var options: GlobalOptions

    @Option(name: .long, help: "How many of the worst-rated answers to list (default 10).") var worst: Int = 10

    func run() async throws {
        try await reportingErrors(options) {
            let kb = try KnowledgeBase(configuration: try options.configuration())
            let report = try await KnowledgeService(knowledgeBase: kb).feedbackReport(worst: worst, caller: .owner)
            if options.json {
                JSONOutput.print(report)
                return 0
            }
            print("\(report.answers) answers, \(report.rated) rated: \(report.up) up, \(report.down) down.")
            if !report.days.isEmpty {
                print("\n" + Terminal.bold("By day:"))
                for day in report.days.suffix(30) { print("  \(day.date)  up \(day.up)  down \(day.down)") }
            }
            if !report.worst.isEmpty {
                print("\n" + Terminal.bold("Worst rated:"))
                for item in report.worst {
                    let a = item.answer
                    print("  \(Terminal.bold(a.question))  (\(item.down) down, \(item.up) up; \(a.id))")
                    if a.standaloneQuestion != a.question { print(Terminal.dim("    searched as: \(a.standaloneQuestion)")) }
                    let q = a.quality
                    print(Terminal.dim(String(format: "    %@ · grounded %.2f · retrieval confidence %.2f · relevance %.2f · %@",
                                              a.abstained ? "abstained" : "answered", q.groundedness, q.retrievalConfidence,
                                              q.relevance, a.generator + (a.model.map { " " + $0 } ?? ""))))
                    for comment in item.comments { print("    “\(comment)”") }
                    for source in a.passages.prefix(3) {
                        print("    [\(source.rank)] \(Terminal.location(path: source.path, startLine: source.startLine, endLine: source.endLine, page: source.page, locator: source.locator))"
                              + (source.heading.isEmpty ? "" : " · \(source.heading)"))
                    }
                }
                print(Terminal.dim("\nAbstained or low retrieval confidence: the knowledge base is missing a document. Answered and grounded but rated down: a source may be wrong or outdated."))
            }
            return 0
        }
    }
}

