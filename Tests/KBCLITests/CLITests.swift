import Foundation
import Testing
import KBTestSupport
import KBCore

/// Runs the real `kb` binary against temporary folders and databases.
struct KBProcess {
    static let binary: String = {
        if let override = ProcessInfo.processInfo.environment["KB_BINARY"] { return override }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test runner sits in the build products folder (or inside an .xctest bundle there).
        for _ in 0..<4 {
            if FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("kb").path) { break }
            folder = folder.deletingLastPathComponent()
        }
        return folder.appendingPathComponent("kb").path
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        func json() throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        }
    }

    /// The environment kb runs in for a test: no user configuration, no colour, the extractive generator.
    static func environment(in directory: String, _ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["KB_DB"] = nil
        environment["KB_CONFIG"] = nil
        environment["NO_COLOR"] = "1"
        environment["XDG_CONFIG_HOME"] = directory + "/.no-config"
        // Answers come from the deterministic extractive generator unless a test asks for a model.
        environment["KB_GENERATOR"] = "extractive"
        environment.merge(extra) { _, new in new }
        return environment
    }

    /// Starts kb; the caller waits or signals.
    static func start(_ arguments: [String], in directory: String, environment extra: [String: String] = [:],
                      stdin: String? = nil) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = environment(in: directory, extra)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        var input: Pipe?
        if stdin != nil { input = Pipe(); process.standardInput = input } else { process.standardInput = FileHandle.nullDevice }
        try process.run()
        if let stdin, let input {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try? input.fileHandleForWriting.close()
        }
        return (process, out, err)
    }

    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:], stdin: String? = nil) throws -> Result {
        let (process, out, err) = try start(arguments, in: directory, environment: environment, stdin: stdin)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }
}

final class Workspace: @unchecked Sendable {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "kb-cli-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path + "/docs", withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func write(_ relative: String, _ text: String) {
        let full = path + "/" + relative
        try! FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! Data(text.utf8).write(to: URL(fileURLWithPath: full))
    }
    func kb(_ arguments: String...) throws -> KBProcess.Result { try KBProcess.run(arguments, in: path) }
}

@Suite(.serialized) struct CLITests {
    @Test func tokensAreCreatedListedAndRevoked() throws {
        try Self.checkTokenCommands(Workspace(), db: nil)
    }

    /// `kb token create/list/revoke` on a store (the default SQLite file, or `db`).
    static func checkTokenCommands(_ ws: Workspace, db: String?) throws {
        let extra = db.map { ["--db", $0] } ?? []
        func kb(_ arguments: String...) throws -> KBProcess.Result { try KBProcess.run(arguments + extra, in: ws.path) }
        let created = try kb("token", "create", "--name", "ana", "--role", "reader", "--json")
        #expect(created.status == 0, "\(created.stderr)")
        let issued = try created.json()
        #expect(issued["name"] as? String == "ana" && issued["role"] as? String == "reader")
        let token = try #require(issued["token"] as? String)
        #expect(token.hasPrefix("kb_") && token.count == 67)
        let plain = try kb("token", "create", "--name", "bo", "--role", "admin")
        #expect(plain.status == 0 && plain.stdout.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("kb_"), "the token alone on stdout")
        #expect(plain.stderr.contains("shown only now"))
        let duplicate = try kb("token", "create", "--name", "ana", "--role", "writer")
        #expect(duplicate.status == 64 && duplicate.stderr.contains("already a user ana"))
        #expect(try kb("token", "create", "--name", "cy", "--role", "root").status == 64)
        #expect(try kb("token", "create", "--name", "a b", "--role", "reader").status == 64)
        let listed = try kb("token", "list", "--json")
        #expect(!listed.stdout.contains(token), "tokens are never listed")
        let users = try #require(try listed.json()["users"] as? [[String: Any]])
        #expect(users.compactMap { $0["name"] as? String } == ["ana", "bo"] && users.compactMap { $0["role"] as? String } == ["reader", "admin"])
        #expect(try kb("token", "list").stdout.contains("ana"))
        #expect(try kb("token", "revoke", "ana").status == 0)
        let again = try kb("token", "revoke", "ana")
        #expect(again.status == 66 && again.stderr.contains("no user ana"))
        #expect((try kb("token", "list", "--json").json()["users"] as? [[String: Any]])?.count == 1)
    }

    @Test func ingestSearchAskStatusWithJSON() async throws {
        let ws = Workspace()
        ws.write("docs/guide.md", "# Guide\n\n## Install\n\nRun the setup script to install kb on Debian.\n\n## 配置\n\n数据库位置可以用环境变量设置。\n")
        ws.write("docs/broken.txt", "\u{0}\u{1}\u{2}\u{3}\u{0}\u{0}\u{0}\u{5}\u{0}\u{7}\u{0}\u{0}")

        let ingest = try ws.kb("ingest", "docs", "--json", "--no-embed")
        #expect(ingest.status == 3, "partial failure exit status; stderr: \(ingest.stderr)")
        let summary = try ingest.json()
        #expect(summary["added"] as? Int == 1)
        #expect(summary["updated"] as? Int == 0)
        #expect(summary["removed"] as? Int == 0)
        let failed = try #require(summary["failed"] as? [[String: Any]])
        #expect(failed.count == 1)
        #expect((failed.first?["path"] as? String)?.hasSuffix("docs/broken.txt") == true)
        #expect(failed.first?["error"] as? String == "binary content (contains NUL bytes) under a text file extension")
        #expect(FileManager.default.fileExists(atPath: ws.path + "/.kb/kb.sqlite"), "default database location")

        let search = try ws.kb("search", "环境变量", "--json")
        #expect(search.status == 0)
        let results = try #require(try search.json()["results"] as? [[String: Any]])
        let top = try #require(results.first)
        #expect(top["rank"] as? Int == 1)
        #expect(top["chunk_id"] is String)
        #expect(top["heading"] as? String == "Guide > 配置")
        #expect(top["start_line"] as? Int == 9)
        #expect(top["end_line"] as? Int == 9)
        #expect((top["path"] as? String)?.hasSuffix("docs/guide.md") == true)
        #expect((top["score"] as? Double ?? 0) > 0)

        let ask = try ws.kb("ask", "How do I install kb?", "--json")
        #expect(ask.status == 0)
        let answer = try ask.json()
        #expect(answer["abstained"] as? Bool == false)
        #expect((answer["answer"] as? String)?.contains("Run the setup script to install kb on Debian [1].") == true)
        let citation = try #require((answer["citations"] as? [[String: Any]])?.first)
        #expect(citation["id"] as? Int == 1)
        #expect(citation["start_line"] as? Int == 5)
        #expect(citation["chunk_id"] is String)
        #expect(citation["supported"] as? Bool == true)
        #expect((answer["answer_id"] as? String)?.hasPrefix("a_") == true)
        #expect((answer["generator"] as? [String: Any])?["name"] as? String == "extractive")
        let quality = try #require(answer["quality"] as? [String: Any])
        #expect(quality["groundedness"] as? Double == 1)
        #expect((quality["retrieval_confidence"] as? Double ?? 0) > 0.4)
        let timings = try #require(answer["timings"] as? [String: Any])
        #expect(timings["total"] is Double && timings["retrieval"] is Double)
        #expect((answer["sentences"] as? [[String: Any]])?.first?["supported"] as? Bool == true)

        let status = try ws.kb("status", "--json").json()
        #expect(status["documents"] as? Int == 1)
        #expect(status["chunks"] as? Int == 2)
        #expect((status["database"] as? String)?.hasSuffix(".kb/kb.sqlite") == true)
        #expect((status["failed"] as? [[String: Any]])?.count == 1)

        // Plain output for people.
        let human = try ws.kb("search", "install")
        #expect(human.stdout.contains("1. docs/guide.md:5 · Guide > Install"))
        let humanAsk = try ws.kb("ask", "How do I install kb?")
        #expect(humanAsk.stdout.contains("Sources:\n  [1] docs/guide.md:5 · Guide > Install"))
    }

    @Test func generatorOptionsAreCheckedAndListed() async throws {
        let ws = Workspace()
        ws.write("docs/a.md", "# Cats\n\nCats sleep a lot during the day.\n")
        _ = try ws.kb("ingest", "docs", "--no-embed")
        let unknown = try ws.kb("ask", "--generator", "gpt5", "Do cats sleep?")
        #expect(unknown.status == 78)
        #expect(unknown.stderr.contains("Unknown generator"))
        let noServer = try KBProcess.run(["ask", "Do cats sleep?"], in: ws.path, environment: ["KB_GENERATOR": "openai"])
        #expect(noServer.status == 78)
        #expect(noServer.stderr.contains("KB_GENERATION_ENDPOINT"))
        let down = try KBProcess.run(["ask", "--json", "Do cats sleep a lot?"], in: ws.path,
                                     environment: ["KB_GENERATOR": "openai", "KB_GENERATION_ENDPOINT": "http://127.0.0.1:9/v1"])
        #expect(down.status == 69)
        #expect(down.stderr.contains("Cannot reach the chat endpoint"))
        #expect((try down.json()["error"] as? [String: Any])?["type"] as? String == "generation_error")
        let models = try ws.kb("models", "--json").json()
        #expect((models["generators"] as? [[String: Any]])?.map { $0["name"] as? String } == ["llama", "openai", "extractive"])
        #expect((models["language_models"] as? [[String: Any]])?.count == 2)
    }

    @Test(.enabled(if: RepositoryModels.smolLMInstalled, "needs models/gguf (scripts/setup.sh)"))
    func asksALocalModelAndStreamsTheAnswer() async throws {
        let ws = Workspace()
        ws.write("docs/harbour.md", "# Harbour\n\nThe lighthouse keeper of Port Ellis is named Marguerite Olsen. She has kept the light since 1994.\n")
        _ = try ws.kb("ingest", "docs", "--no-embed")
        let human = try KBProcess.run(["ask", "--generator", "llama", "--model", "smollm2-135m", "--threads", "2", "--explain",
                                       "What is the name of the lighthouse keeper of Port Ellis?"],
                                      in: ws.path, environment: ["KB_MODELS": RepositoryModels.root.appendingPathComponent("models").path])
        #expect(human.status == 0, "\(human.stderr)")
        #expect(human.stdout.contains("Marguerite Olsen"))
        #expect(human.stdout.contains("Sources:\n  [1] docs/harbour.md:3 · Harbour"))
        #expect(human.stdout.contains("quality: grounded 1.00"))
        #expect(human.stdout.contains("llama smollm2-135m"))
        #expect(human.stdout.contains("timings: retrieval"))
    }

    @Test func conversationsFeedbackAndChat() async throws {
        let ws = Workspace()
        ws.write("docs/rome.md", "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus. It closed as an arena in the 6th century.\n")
        _ = try ws.kb("ingest", "docs", "--no-embed")
        let first = try ws.kb("ask", "--json", "When did the Colosseum in Rome open?").json()
        let conversation = try #require(first["conversation_id"] as? String)
        let answerID = try #require(first["answer_id"] as? String)
        #expect(first["turn"] as? Int == 1)
        let followUp = try ws.kb("ask", "--json", "--conversation", conversation, "and when did it close?").json()
        #expect(followUp["standalone_question"] as? String == "and when did it close? (Colosseum Rome)")
        #expect(followUp["turn"] as? Int == 2)
        #expect((followUp["answer"] as? String)?.contains("6th century") == true)
        let human = try ws.kb("ask", "--conversation", conversation, "what about its emperor?")
        #expect(human.stdout.contains("(searched as: what about its emperor? (Colosseum Rome))"))
        #expect(human.stdout.contains("conversation \(conversation)"))
        let missing = try ws.kb("ask", "--conversation", "c_0000", "and then?")
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("There is no conversation c_0000"))

        let rated = try ws.kb("feedback", answerID, "down", "--comment", "too vague")
        #expect(rated.status == 0, "\(rated.stderr)")
        #expect(rated.stdout.contains("Recorded: \(answerID) down — too vague."))
        #expect(try ws.kb("feedback", "a_0000", "up").status == 64)
        #expect(try ws.kb("feedback", answerID, "sideways").status == 64)
        let report = try ws.kb("feedback", "report", "--json").json()
        #expect(report["down"] as? Int == 1)
        #expect(report["answers"] as? Int == 3)
        let worst = try #require((report["worst"] as? [[String: Any]])?.first)
        #expect(worst["comments"] as? [String] == ["too vague"])
        #expect((worst["answer"] as? [String: Any])?["question"] as? String == "When did the Colosseum in Rome open?")
        #expect(try ws.kb("feedback", "report").stdout.contains("Worst rated:"))

        // kb chat reads questions line by line from a pipe.
        let chat = try KBProcess.run(["chat", "--json"], in: ws.path, stdin: "When did the Colosseum in Rome open?\n\nand when did it close?\n/quit\nignored after quit\n")
        #expect(chat.status == 0, "\(chat.stderr)")
        let lines = chat.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 2)
        #expect(lines.last?["standalone_question"] as? String == "and when did it close? (Colosseum Rome)")
        #expect(lines.first?["conversation_id"] as? String == lines.last?["conversation_id"] as? String)
        let plain = try KBProcess.run(["chat"], in: ws.path, stdin: "When did the Colosseum in Rome open?\n/sources\n/history\n")
        #expect(plain.stdout.contains("[1] docs/rome.md:3"))
        #expect(plain.stdout.contains("1. When did the Colosseum in Rome open?"))
    }

    @Test func abstainsWhenTheKnowledgeBaseDoesNotKnow() async throws {
        let ws = Workspace()
        ws.write("docs/a.md", "# Cats\n\nCats sleep a lot during the day.\n")
        _ = try ws.kb("ingest", "docs", "--no-embed")
        let ask = try ws.kb("ask", "--json", "What is the boiling point of mercury?")
        #expect(ask.status == 0)
        let answer = try ask.json()
        #expect(answer["abstained"] as? Bool == true)
        #expect((answer["citations"] as? [Any])?.isEmpty == true)
    }

    @Test func badInputGivesClearMessagesAndExitStatuses() async throws {
        let ws = Workspace()
        let missing = try ws.kb("ingest", "no-such-folder")
        #expect(missing.status == 66)
        #expect(missing.stderr.contains("kb: error: \(ws.path)/no-such-folder: no such file or directory."))

        let noDatabase = try ws.kb("search", "anything")
        #expect(noDatabase.status == 66)
        #expect(noDatabase.stderr.contains("No knowledge base at"))

        ws.write("docs/a.md", "text")
        _ = try ws.kb("ingest", "docs", "--no-embed")
        let empty = try ws.kb("search", "  ", "--json")
        #expect(empty.status == 64)
        #expect(empty.stderr.contains("The query is empty"))
        let error = try #require(try empty.json()["error"] as? [String: String])
        #expect(error["type"] == "invalid_argument")

        ws.write("notes.txt", "not a database")
        let notADatabase = try ws.kb("status", "--db", "notes.txt")
        #expect(notADatabase.status == 65)
        #expect(notADatabase.stderr.contains("is not a kb database"))
        #expect(!notADatabase.stderr.contains("Fatal error"))
    }

    @Test func killedIngestLeavesAConsistentDatabaseAndResumes() async throws {
        let ws = Workspace()
        for i in 0..<300 {
            ws.write("docs/d\(i / 50)/file\(i).md", "# File \(i)\n\n" + String(repeating: "Paragraph text number \(i) with some words. ", count: 40) + "\n\n第\(i)号文件的中文内容。\n")
        }
        let database = ws.path + "/.kb/kb.sqlite"
        // SIGKILL at random moments, several times, then Ctrl-C once.
        var killed = 0
        for signal in [SIGKILL, SIGKILL, SIGKILL, SIGINT] {
            let (process, _, _) = try KBProcess.start(["ingest", "docs", "--quiet", "--no-embed"], in: ws.path)
            usleep(useconds_t(100_000 + Int.random(in: 0..<400_000)))
            if process.isRunning { kill(process.processIdentifier, signal); killed += 1 }
            process.waitUntilExit()
            if signal == SIGINT && process.terminationReason == .exit {
                #expect([0, 130].contains(process.terminationStatus))
            }
            if FileManager.default.fileExists(atPath: database) {
                let kb = try KnowledgeBase(configuration: Configuration(databasePath: database))
                await #expect(try kb.consistencyProblems().isEmpty, "after signal \(signal)")
            }
        }
        #expect(killed > 0)
        let finish = try ws.kb("ingest", "docs", "--json", "--no-embed")
        #expect(finish.status == 0)
        let summary = try finish.json()
        #expect((summary["added"] as? Int ?? 0) + (summary["unchanged"] as? Int ?? 0) == 300)
        #expect((summary["unchanged"] as? Int ?? 0) > 0, "files finished before the kills are not redone")
        let kb = try KnowledgeBase(configuration: Configuration(databasePath: database))
        await #expect(try kb.consistencyProblems().isEmpty)
        let status = try await kb.status()
        #expect(status.documents == 300)   // every file exactly once (paths are unique)
        await #expect(try kb.search("第299号文件").results.first?.path.hasSuffix("file299.md") == true)
        let again = try ws.kb("ingest", "docs", "--json", "--no-embed").json()
        #expect(again["unchanged"] as? Int == 300)
    }

    @Test(.enabled(if: RepositoryModels.installed, "needs models (scripts/setup.sh)"))
    func killedWhileEmbeddingKeepsVectorsConsistent() async throws {
        let ws = Workspace()
        for i in 0..<60 { ws.write("docs/n\(i).md", "Note \(i) about topic \(i % 7) and item \(i).\n") }
        let database = ws.path + "/.kb/kb.sqlite"
        for _ in 0..<2 {
            let (process, _, _) = try KBProcess.start(["ingest", "docs", "--quiet", "--embedding-model", "all-minilm-l6-v2"], in: ws.path)
            usleep(useconds_t(300_000 + Int.random(in: 0..<1_200_000)))
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            if FileManager.default.fileExists(atPath: database) {
                await #expect(try KnowledgeBase(configuration: Configuration(databasePath: database)).consistencyProblems().isEmpty)
            }
        }
        let finish = try ws.kb("ingest", "docs", "--json", "--embedding-model", "all-minilm-l6-v2")
        #expect(finish.status == 0)
        let kb = try KnowledgeBase(configuration: Configuration(databasePath: database))
        await #expect(try kb.consistencyProblems().isEmpty)
        let status = try await kb.status()
        #expect(status.documents == 60)
        #expect(status.embeddingModels.first { $0.model == "all-minilm-l6-v2" }?.vectors == status.chunks)
    }

    @Test func aMultiMegabyteFileWithVeryLongLinesStreamsThrough() async throws {
        let ws = Workspace()
        // 4 MB: one 2 MB line of English, then 2 MB of Chinese without a single newline or punctuation.
        let english = String(repeating: "streaming words without any line break ", count: 52_000)
        let chinese = String(repeating: "长行中文没有标点也没有换行", count: 55_000)
        ws.write("docs/long.txt", english + "\n\n" + chinese + "\n")
        let started = Date()
        let ingest = try ws.kb("ingest", "docs", "--json", "--no-embed")
        #expect(ingest.status == 0)
        #expect(try ingest.json()["added"] as? Int == 1)
        let kb = try KnowledgeBase(configuration: Configuration(databasePath: ws.path + "/.kb/kb.sqlite"))
        await #expect(try kb.status().chunks > 1000)
        await #expect(try kb.consistencyProblems().isEmpty)
        // Not a timing assertion: a generous bound that only quadratic work would exceed.
        #expect(Date().timeIntervalSince(started) < 300)
    }
}

enum RepositoryModels {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var installed: Bool { FileManager.default.fileExists(atPath: root.appendingPathComponent("models/multilingual-e5-small/.complete").path) }
    static var smolLMInstalled: Bool { FileManager.default.fileExists(atPath: root.appendingPathComponent("models/gguf/smollm2-135m-instruct-q4_1.gguf").path) }
    static var golden: [String: Any]? {
        let path = root.deletingLastPathComponent().appendingPathComponent("shared/models/golden/golden_multilingual-e5-small-q4.json").path
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }
}

@Suite(.serialized) struct EmbeddingCLITests {
    @Test(.enabled(if: RepositoryModels.installed, "needs models/multilingual-e5-small (scripts/setup.sh)"))
    func hybridSearchWithTheDefaultModel() async throws {
        let ws = Workspace()
        ws.write("docs/zh.md", "# 北京\n\n北京是中华人民共和国的首都。\n")
        ws.write("docs/en.md", "# Plants\n\nPhotosynthesis converts light energy into chemical energy in plants.\n")
        let ingest = try ws.kb("ingest", "docs", "--json")
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let summary = try ingest.json()
        #expect(summary["embedded"] as? Int == 2)
        #expect(summary["embedding_model"] as? String == "multilingual-e5-small")

        // An English question finds the Chinese passage by meaning alone.
        let vector = try ws.kb("search", "What is the capital of China?", "--mode", "vector", "--json")
        let results = try #require(try vector.json()["results"] as? [[String: Any]])
        #expect((results.first?["path"] as? String)?.hasSuffix("docs/zh.md") == true)

        let explained = try ws.kb("search", "photosynthesis light", "--explain", "--json")
        let response = try explained.json()
        #expect(response["mode"] as? String == "hybrid")
        let first = try #require((response["results"] as? [[String: Any]])?.first)
        let explanation = try #require(first["explanation"] as? [String: Any])
        #expect(explanation["keyword_rank"] as? Int == 1)
        #expect(explanation["vector_rank"] as? Int == 1)
        #expect(explanation["fused_score"] is Double)
        let human = try ws.kb("search", "photosynthesis light", "--explain")
        #expect(human.stdout.contains("keyword #1"))
        #expect(human.stdout.contains("vector #1"))

        let models = try ws.kb("models", "--json").json()
        #expect(models["default"] as? String == "multilingual-e5-small")
        #expect((models["vectors"] as? [[String: Any]])?.first?["vectors"] as? Int == 2)

        let keywordOnly = try ws.kb("search", "--mode", "keyword", "--json", "北京")
        #expect(keywordOnly.status == 0)

        if let golden = RepositoryModels.golden, let sentence = (golden["sentences"] as? [[String: Any]])?.first,
           let text = sentence["text"] as? String, let expected = sentence["embedding_query"] as? [Double] {
            let embed = try ws.kb("embed", "--json", "--kind", "query", text).json()
            #expect(embed["model"] as? String == "multilingual-e5-small")
            #expect(embed["dimension"] as? Int == 384)
            let vector = try #require(embed["vector"] as? [Double])
            let dot = zip(vector, expected).reduce(0) { $0 + $1.0 * $1.1 }
            let norms = (vector.reduce(0) { $0 + $1 * $1 } * expected.reduce(0) { $0 + $1 * $1 }).squareRoot()
            #expect(dot / norms >= 0.999)
        }
    }

    @Test func vectorModeWithoutVectorsSaysWhatToDo() async throws {
        let ws = Workspace()
        ws.write("docs/a.md", "text here")
        _ = try ws.kb("ingest", "docs", "--no-embed")
        let result = try ws.kb("search", "--mode", "vector", "text")
        #expect(result.status == 64)
        #expect(result.stderr.contains("No vectors in"))
        let unknown = try ws.kb("embed", "--embedding-model", "nonexistent-model", "text")
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("Unknown embedding model nonexistent-model. Known models: multilingual-e5-small, all-minilm-l6-v2"))
    }
}

/// The JSON the CLI prints matches the schemas in Schemas/http (which the daemon's responses share).
@Suite(.serialized) struct JSONContractTests {
    static let schemas = RepositoryModels.root.appendingPathComponent("Schemas/http")

    func expectValid(_ text: String, _ schema: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        var validator = JSONSchemaValidator(folder: Self.schemas)
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        let problems = validator.validate(value, against: schema)
        #expect(problems.isEmpty, "\(schema): \(problems.prefix(5).joined(separator: "; "))", sourceLocation: sourceLocation)
    }

    @Test func outputsMatchTheSchemas() async throws {
        let ws = Workspace()
        ws.write("docs/rome.md", "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus. It closed as an arena in the 6th century.\n")
        _ = try ws.kb("ingest", "docs", "--no-embed")
        try expectValid(try ws.kb("search", "--json", "--explain", "Colosseum").stdout, "search-response.schema.json")
        let ask = try ws.kb("ask", "--json", "When did the Colosseum in Rome open?")
        try expectValid(ask.stdout, "answer.schema.json")
        let abstained = try ws.kb("ask", "--json", "What is the boiling point of liquid nitrogen?")
        try expectValid(abstained.stdout, "answer.schema.json")
        let id = try #require(try ask.json()["answer_id"] as? String)
        _ = try ws.kb("feedback", id, "down", "--comment", "vague")
        try expectValid(try ws.kb("feedback", "report", "--json").stdout, "feedback-report.schema.json")
        let error = try ws.kb("ask", "--json", "--generator", "nope", "x")
        try expectValid(error.stdout, "error.schema.json")
        let chat = try KBProcess.run(["chat", "--json"], in: ws.path, stdin: "When did the Colosseum open?\nand when did it close?\n")
        for line in chat.stdout.split(separator: "\n") { try expectValid(String(line), "answer.schema.json") }
    }

    @Test func theValidatorRejectsWhatTheSchemasForbid() async throws {
        var validator = JSONSchemaValidator(folder: Self.schemas)
        #expect(!validator.validate(["error": ["message": "x"]], against: "error.schema.json").isEmpty)         // missing type
        #expect(!validator.validate(["error": ["message": "x", "type": "Bad Type"]], against: "error.schema.json").isEmpty)
        #expect(!validator.validate(["error": ["message": "x", "type": "io", "extra": 1]], against: "error.schema.json").isEmpty)
        #expect(validator.validate(["error": ["message": "x", "type": "io_error"]], against: "error.schema.json").isEmpty)
        let boolean = try JSONSerialization.jsonObject(with: Data(#"{"answers":true,"rated":0,"up":0,"down":0,"days":[],"worst":[]}"#.utf8))
        #expect(!validator.validate(boolean, against: "feedback-report.schema.json").isEmpty)
    }
}

/// `kb serve` started as a process, the way a user starts it.
@Suite(.serialized) struct ServeProcessTests {
    static let venvPython = RepositoryModels.root.appendingPathComponent(".venv-test/bin/python").path
    static let clientScript = RepositoryModels.root.appendingPathComponent("Tests/KBCLITests/Scripts/openai_client.py").path

    /// Starts `kb serve --port 0` and waits for the line that names the port.
    static func serve(in ws: Workspace, token: String, environment: [String: String] = [:]) throws -> (Process, Int) {
        let (process, _, err) = try KBProcess.start(["serve", "--port", "0"], in: ws.path,
                                                    environment: environment.merging(["KB_API_TOKEN": token]) { _, new in new })
        var seen = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let data = err.fileHandleForReading.availableData
            if data.isEmpty { if !process.isRunning { break }; usleep(20_000); continue }
            seen += String(decoding: data, as: UTF8.self)
            if let range = seen.range(of: #"http://127\.0\.0\.1:(\d+)"#, options: .regularExpression),
               let port = Int(seen[range].split(separator: ":").last ?? "") {
                return (process, port)
            }
        }
        process.terminate()
        throw KBError(.io, "kb serve did not start: \(seen)")
    }

    @Test func servesHTTPAndStopsCleanlyOnSIGTERM() async throws {
        let ws = Workspace()
        ws.write("docs/rome.md", "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus.\n")
        _ = try ws.kb("ingest", "docs", "--no-embed")
        let token = "e2e-token-0123456789abcdef"
        // Without a token kb refuses a public address.
        let refused = try ws.kb("serve", "--host", "0.0.0.0", "--port", "0")
        #expect(refused.status == 78)
        #expect(refused.stderr.contains("will not listen on 0.0.0.0 without tokens"))

        let (process, port) = try Self.serve(in: ws, token: token)
        let health = try Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/healthz")!)
        #expect(String(decoding: health, as: UTF8.self).contains("ok"))

        if FileManager.default.isExecutableFile(atPath: Self.venvPython) {
            let python = Process()
            python.executableURL = URL(fileURLWithPath: Self.venvPython)
            python.arguments = [Self.clientScript, "http://127.0.0.1:\(port)/v1", token, "When did the Colosseum in Rome open?"]
            let out = Pipe(), err = Pipe()
            python.standardOutput = out
            python.standardError = err
            try python.run()
            let output = out.fileHandleForReading.readDataToEndOfFile()
            let errors = err.fileHandleForReading.readDataToEndOfFile()
            python.waitUntilExit()
            #expect(python.terminationStatus == 0, "\(String(decoding: errors, as: UTF8.self))")
            let seen = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
            #expect(seen["models"] as? [String] == ["kb"])
            #expect((seen["plain"] as? String)?.contains("80 AD") == true)
            #expect((seen["plain"] as? String)?.contains("docs/rome.md") == true)
            #expect((seen["streamed"] as? String)?.contains("docs/rome.md") == true)
            #expect((seen["chunks"] as? Int ?? 0) > 1)
            #expect((seen["kb_citations"] as? [String])?.first?.hasSuffix("docs/rome.md") == true)
        } else {
            Issue.record("no \(Self.venvPython): run scripts/test.sh, which creates it with the openai package")
        }

        process.terminate()   // SIGTERM; Ctrl-C (SIGINT) behaves the same
        let deadline = Date().addingTimeInterval(15)
        var status: Int32 = 0
        while Date() < deadline {
            let result = waitpid(process.processIdentifier, &status, WNOHANG)
            if result != 0 { break }
            usleep(50_000)
        }
        #expect(kill(process.processIdentifier, 0) != 0, "kb serve did not stop")
        #expect(try ws.kb("status", "--json").status == 0)   // the database is fine afterwards
    }
}

/// The CLI on a PostgreSQL knowledge base: the same commands with `--db postgres://…`.
@Suite(.serialized) struct PostgresCLITests {
    @Test func ingestSearchAskStatusOnPostgres() async throws {
        guard let url = TestPostgres.scratch() else { return }
        let ws = Workspace()
        ws.write("docs/rome.md", "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus.\n")
        ws.write("docs/桥.md", "# 石桥\n\n这座石桥建于一六二三年，由当地商人出资修建。\n")
        let ingest = try KBProcess.run(["ingest", "docs", "--no-embed", "--json", "--db", url], in: ws.path)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        #expect(try ingest.json()["added"] as? Int == 2)
        let again = try KBProcess.run(["ingest", "docs", "--no-embed", "--json", "--db", url], in: ws.path)
        #expect(try again.json()["unchanged"] as? Int == 2, "incremental on PostgreSQL too")
        let search = try KBProcess.run(["search", "石桥是哪一年建的", "--json", "--db", url], in: ws.path)
        let top = try #require((try search.json()["results"] as? [[String: Any]])?.first)
        #expect((top["path"] as? String)?.hasSuffix("docs/桥.md") == true)
        let ask = try KBProcess.run(["ask", "When did the Colosseum in Rome open?", "--json", "--db", url], in: ws.path)
        let answer = try ask.json()
        #expect((answer["answer"] as? String)?.contains("80 AD") == true)
        let id = try #require(answer["answer_id"] as? String)
        #expect(try KBProcess.run(["feedback", id, "up", "--db", url], in: ws.path).status == 0)
        let status = try KBProcess.run(["status", "--json", "--db", url], in: ws.path).json()
        #expect(status["documents"] as? Int == 2)
        #expect((status["database"] as? String)?.hasPrefix("postgres://kb@127.0.0.1:") == true, "no password in what kb shows")
        try await PostgresStore.dropDatabase(url)
    }

    @Test func tokensOnPostgres() async throws {
        guard let url = TestPostgres.scratch() else { return }
        try CLITests.checkTokenCommands(Workspace(), db: url)
        try await PostgresStore.dropDatabase(url)
    }
}
