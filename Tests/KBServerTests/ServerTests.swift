import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KBCore
import KBServer
import KBTestSupport
import Testing

/// A temporary folder with a small knowledge base.
final class Workspace: @unchecked Sendable {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "kb-server-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path + "/docs", withIntermediateDirectories: true)
        try? "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus. It closed as an arena in the 6th century.\n"
            .write(toFile: path + "/docs/rome.md", atomically: true, encoding: .utf8)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func knowledgeBase(generator: any AnswerGenerator = ExtractiveGenerator()) async throws -> KnowledgeBase {
        let kb = try KnowledgeBase(configuration: Configuration(databasePath: path + "/.kb/kb.sqlite", knowledgeFolders: [path + "/docs"]),
                                   create: true, generator: generator)
        _ = try await kb.ingest(embed: false)
        return kb
    }
}

/// A generator that takes its time (to fill the queue).
struct SlowGenerator: AnswerGenerator {
    let name = "slow"
    let model: String? = nil
    func generate(_ request: GenerationRequest, onText: @escaping @Sendable (String) -> Void) async throws(KBError) -> GeneratedAnswer {
        try? await Task.sleep(nanoseconds: 600_000_000)
        return try await ExtractiveGenerator().generate(request, onText: onText)
    }
}

/// A server running in this process on a free loopback port, stopped at the end of `body`.
func withServer(_ kb: KnowledgeBase, token: String? = "test-token-0123456789", queue: Int = 4, watch: Double = 0,
                timeout: Double = 300, _ body: @Sendable (Client) async throws -> Void) async throws {
    var settings = ServerSettings()
    settings.requestTimeout = timeout
    settings.port = 0
    settings.watchInterval = watch
    settings.token = token
    settings.maxQueuedGenerations = queue
    let server = try KBServer(kb: kb, settings: settings)
    let port = PortBox()
    let task = Task { try await server.run { port.set($0) } }
    defer { task.cancel() }
    for _ in 0..<500 where port.value == 0 { try await Task.sleep(nanoseconds: 10_000_000) }
    #expect(port.value != 0, "the server did not start")
    try await body(Client(base: "http://127.0.0.1:\(port.value)", token: token))
}

final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = 0
    func set(_ value: Int) { lock.withLock { stored = value } }
    var value: Int { lock.withLock { stored } }
}

struct Reply: Sendable {
    var status: Int
    var headers: [String: String]
    var body: Data
    var text: String { String(decoding: body, as: UTF8.self) }
    func json() throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any]) }
}

struct Client: Sendable {
    let base: String
    let token: String?

    /// The schema each endpoint's request body follows; well-formed bodies the tests send are checked against it.
    static let requestSchemas = ["/v1/search": "search-request.schema.json", "/v1/ask": "ask-request.schema.json",
                                 "/v1/feedback": "feedback-request.schema.json", "/v1/documents": "ingest-request.schema.json",
                                 "/v1/chat/completions": "chat-completion-request.schema.json", "/v1/read": "read-request.schema.json",
                                 "/v1/tokens": "token-request.schema.json"]

    func send(_ method: String, _ path: String, json: Any? = nil, raw: Data? = nil, token: String?? = .none,
              headers: [String: String] = [:], valid: Bool = true) async throws -> Reply {
        if let json, valid, let schema = Self.requestSchemas[path] { expectSchema(json, schema) }
        var request = URLRequest(url: URL(string: base + path)!, timeoutInterval: 60)
        request.httpMethod = method
        let bearer: String? = token ?? self.token
        if let bearer { request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
        if let json { request.httpBody = try JSONSerialization.data(withJSONObject: json); request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if let raw { request.httpBody = raw; request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        return try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error { continuation.resume(throwing: error); return }
                let http = response as! HTTPURLResponse
                var fields: [String: String] = [:]
                for (key, value) in http.allHeaderFields { fields[String(describing: key).lowercased()] = String(describing: value) }
                continuation.resume(returning: Reply(status: http.statusCode, headers: fields, body: data ?? Data()))
            }.resume()
        }
    }
}

func expectSchema(_ value: Any, _ schema: String, sourceLocation: SourceLocation = #_sourceLocation) {
    var validator = JSONSchemaValidator(folder: httpSchemasFolder)
    let problems = validator.validate(value, against: schema)
    #expect(problems.isEmpty, "\(schema): \(problems.prefix(5).joined(separator: "; "))", sourceLocation: sourceLocation)
}

/// Server-Sent Events in a body: (event name, data) pairs.
func events(_ text: String) -> [(event: String, data: String)] {
    text.components(separatedBy: "\n\n").compactMap { block in
        var event = "message", data: [String] = []
        for line in block.split(separator: "\n") {
            if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
            if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
        }
        return data.isEmpty ? nil : (event, data.joined(separator: "\n"))
    }
}

@Suite(.serialized) struct ServerTests {
    @Test func authenticationIsRequiredExceptForHealth() async throws {
        let ws = Workspace()
        try await withServer(try ws.knowledgeBase()) { client in
            #expect(try await client.send("GET", "/healthz", token: .some(nil)).status == 200)
            let missing = try await client.send("POST", "/v1/search", json: ["query": "Colosseum"], token: .some(nil))
            #expect(missing.status == 401)
            #expect(missing.headers["www-authenticate"] == "Bearer")
            expectSchema(try missing.json(), "error.schema.json")
            #expect(try await client.send("POST", "/v1/search", json: ["query": "Colosseum"], token: "test-token-wrong-456789").status == 401)
            #expect(try await client.send("GET", "/metrics", token: .some(nil)).status == 401)
            #expect(try await client.send("POST", "/v1/search", json: ["query": "Colosseum"]).status == 200)
        }
        var settings = ServerSettings()
        settings.host = "0.0.0.0"
        #expect(throws: KBError.self) { try settings.validate() }
        settings.token = "short"
        #expect(throws: KBError.self) { try settings.validate() }
        settings.token = "a-long-enough-random-token"
        #expect(throws: Never.self) { try settings.validate() }
    }

    @Test func searchAskFeedbackAndConversationsMatchTheSchemas() async throws {
        let ws = Workspace()
        try await withServer(try ws.knowledgeBase()) { client in
            let search = try await client.send("POST", "/v1/search", json: ["query": "Colosseum", "k": 3])
            #expect(search.status == 200)
            expectSchema(try search.json(), "search-response.schema.json")
            #expect((try search.json()["results"] as? [[String: Any]])?.first?["path"] as? String == ws.path + "/docs/rome.md")

            let ask = try await client.send("POST", "/v1/ask", json: ["question": "When did the Colosseum in Rome open?"])
            #expect(ask.status == 200)
            let answer = try ask.json()
            expectSchema(answer, "answer.schema.json")
            #expect((answer["answer"] as? String)?.contains("80 AD") == true)
            let conversation = try #require(answer["conversation_id"] as? String)
            let answerID = try #require(answer["answer_id"] as? String)

            let followUp = try await client.send("POST", "/v1/ask", json: ["question": "and when did it close?", "conversation_id": conversation])
            #expect(try followUp.json()["standalone_question"] as? String == "and when did it close? (Colosseum Rome)")
            #expect(try followUp.json()["turn"] as? Int == 2)

            let stored = try await client.send("GET", "/v1/conversations/\(conversation)")
            #expect(stored.status == 200)
            #expect((try stored.json()["turns"] as? [[String: Any]])?.count == 2)
            #expect(try await client.send("GET", "/v1/conversations/c_0000000000000000").status == 400)

            let rated = try await client.send("POST", "/v1/feedback", json: ["answer_id": answerID, "rating": "down", "comment": "vague"])
            #expect(rated.status == 201)
            #expect(try await client.send("POST", "/v1/feedback", json: ["answer_id": answerID, "rating": "meh"], valid: false).status == 400)
            #expect(try await client.send("POST", "/v1/feedback", json: ["answer_id": "a_0000000000000000", "rating": "up"], valid: false).status == 400)
            await #expect(try kbReportDown(ws) == 1)

            let documents = try await client.send("GET", "/v1/documents")
            #expect((try documents.json()["documents"] as? [[String: Any]])?.count == 1)
            let metrics = try await client.send("GET", "/metrics")
            #expect(metrics.text.contains("kb_http_requests_total{route=\"/v1/ask\",method=\"POST\",status=\"200\"} 2"))
            #expect(metrics.text.contains("kb_answers_total 2"))
            #expect(metrics.text.contains("kb_documents 1"))
        }
    }

    func kbReportDown(_ ws: Workspace) async throws -> Int {
        try await KnowledgeBase(configuration: Configuration(databasePath: ws.path + "/.kb/kb.sqlite")).feedbackReport().down
    }

    @Test func askStreamsTokensThenTheCheckedAnswer() async throws {
        let ws = Workspace()
        try await withServer(try ws.knowledgeBase()) { client in
            let reply = try await client.send("POST", "/v1/ask", json: ["question": "When did the Colosseum in Rome open?", "stream": true])
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"]?.hasPrefix("text/event-stream") == true)
            let stream = events(reply.text)
            #expect(stream.first?.event == "token")
            #expect(stream.map(\.event).suffix(2) == ["answer", "done"])
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(stream[stream.count - 2].data.utf8)) as? [String: Any])
            expectSchema(answer, "answer.schema.json")
            let streamed = stream.filter { $0.event == "token" }.compactMap { event -> String? in
                (try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any])?["text"] as? String
            }.joined()
            #expect(streamed == answer["generated_text"] as? String)
        }
    }

    @Test func aRepairedAnswerStreamsAWithdrawalThenItsReplacement() async throws {
        let ws = Workspace()
        // Refuses from all passages, answers from the best one alone (the repair's first strategy).
        let model = ScriptedModel { messages in
            (messages.first?.content ?? "").contains("one short sentence") ? "The Colosseum opened in 80 AD [1]." : "The knowledge base does not contain the answer."
        }
        try await withServer(try ws.knowledgeBase(generator: LanguageModelGenerator(name: "llama", languageModel: model))) { client in
            let reply = try await client.send("POST", "/v1/ask", json: ["question": "When did the Colosseum in Rome open?", "stream": true])
            let stream = events(reply.text)
            let kinds = stream.map(\.event)
            let withdrawal = try #require(kinds.firstIndex(of: "replaced"))
            #expect(kinds[..<withdrawal].allSatisfy { $0 == "token" } && withdrawal > 0)
            #expect(stream[withdrawal].data.contains("The generator found no answer"))
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(stream[stream.count - 2].data.utf8)) as? [String: Any])
            expectSchema(answer, "answer.schema.json")
            #expect(answer["replaced"] as? Bool == true)
            #expect((answer["attempts"] as? [[String: Any]])?.map { $0["strategy"] as? String } == ["initial", "best-passage"])
            let after = stream[(withdrawal + 1)...].filter { $0.event == "token" }.compactMap { event -> String? in
                (try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any])?["text"] as? String
            }.joined()
            #expect(after == answer["answer"] as? String, "what streams after the withdrawal is the final answer")

            // An OpenAI client cannot take text back: the message says kb withdrew it, then gives the answer.
            let chat = try await client.send("POST", "/v1/chat/completions", json: [
                "model": "kb", "stream": true, "messages": [["role": "user", "content": "When did the Colosseum in Rome open?"]]])
            #expect(chat.text.contains("kb withdrew the text above"))
            #expect(chat.text.contains("80 AD"))
        }
    }

    @Test func badRequestsGetClearErrorsAndTheServerKeepsServing() async throws {
        let ws = Workspace()
        try await withServer(try ws.knowledgeBase()) { client in
            let malformed = try await client.send("POST", "/v1/search", raw: Data("{\"query\": ".utf8))
            #expect(malformed.status == 400)
            #expect((try malformed.json()["error"] as? [String: Any])?["type"] as? String == "invalid_json")
            let unknown = try await client.send("POST", "/v1/search", json: ["query": "x", "limit": 3], valid: false)
            #expect(unknown.status == 400)
            #expect(unknown.text.contains("Unknown field \\\"limit\\\"") || unknown.text.contains("Unknown field \"limit\""))
            let wrongType = try await client.send("POST", "/v1/search", json: ["query": 42], valid: false)
            #expect(wrongType.status == 400)
            #expect(try await client.send("POST", "/v1/search", json: ["query": "x", "k": 0], valid: false).status == 400)
            #expect(try await client.send("POST", "/v1/ask", json: ["question": "   "], valid: false).status == 400)
            let huge = try await client.send("POST", "/v1/search", raw: Data(("{\"query\":\"" + String(repeating: "a", count: 2 << 20) + "\"}").utf8))
            #expect(huge.status == 413)
            expectSchema(try huge.json(), "error.schema.json")
            let missing = try await client.send("GET", "/v1/nothing")
            #expect(missing.status == 404)
            expectSchema(try missing.json(), "error.schema.json")
            #expect(try await client.send("POST", "/v1/search", json: ["query": "Colosseum"]).status == 200)
        }
    }

    @Test func ingestStaysInsideTheKnowledgeFolders() async throws {
        let ws = Workspace()
        let kb = try await ws.knowledgeBase()
        let outside = NSTemporaryDirectory() + "kb-outside-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try "# Secret\n\nThe vault code is 4711.\n".write(toFile: outside + "/secret.md", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: ws.path + "/docs/link.md", withDestinationPath: outside + "/secret.md")
        try FileManager.default.createSymbolicLink(atPath: ws.path + "/docs/linkdir", withDestinationPath: outside)
        try "# Paris\n\nThe Eiffel Tower was completed in 1889.\n".write(toFile: ws.path + "/docs/paris.md", atomically: true, encoding: .utf8)
        try await withServer(kb) { client in
            for path in [outside + "/secret.md", "../../" + (outside as NSString).lastPathComponent + "/secret.md", "link.md", "linkdir/secret.md", "/etc/passwd"] {
                let refused = try await client.send("POST", "/v1/documents", json: ["path": path, "embed": false])
                #expect(refused.status == 403 || refused.status == 404, "\(path): \(refused.status) \(refused.text)")
                #expect(!refused.text.contains("4711"))
            }
            #expect(try await client.send("POST", "/v1/documents", json: ["path": "../docs/../docs/link.md"]).status == 403)
            let added = try await client.send("POST", "/v1/documents", json: ["path": "paris.md", "embed": false])
            #expect(added.status == 200, "\(added.text)")
            #expect(try added.json()["added"] as? Int == 1)
            let search = try await client.send("POST", "/v1/search", json: ["query": "vault code"])
            #expect((try search.json()["results"] as? [[String: Any]])?.isEmpty == true)
            let documents = try await client.send("GET", "/v1/documents")
            let paris = try #require((try documents.json()["documents"] as? [[String: Any]])?.first { ($0["path"] as? String)?.hasSuffix("paris.md") == true })
            let id = try #require(paris["id"] as? Int)
            #expect(try await client.send("DELETE", "/v1/documents/\(id)").status == 200)
            #expect(try await client.send("DELETE", "/v1/documents/\(id)").status == 404)
            #expect(try await client.send("DELETE", "/v1/documents/abc").status == 400)
            let metrics = try await client.send("GET", "/metrics")
            #expect(metrics.text.contains("kb_ingested_documents_total{outcome=\"added\"} 1"))
        }
    }

    @Test func aWatcherIngestThatFailsIsCountedAndRetried() async throws {
        let ws = Workspace()
        try await withServer(try ws.knowledgeBase(), watch: 0.2) { client in
            // Another ingest (another process, as far as the daemon can tell) holds the lock.
            var lease: (any IngestLease)? = try await SQLiteStore(path: ws.path + "/.kb/kb.sqlite", create: false).acquireIngestLease()
            try "# Lyon\n\nLyon is known for its silk weavers.\n".write(toFile: ws.path + "/docs/lyon.md", atomically: true, encoding: .utf8)
            func failures() async throws -> Int {
                let metrics = try await client.send("GET", "/metrics").text
                let line = metrics.split(separator: "\n").first { $0.hasPrefix("kb_watch_ingest_failures_total ") }
                return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? -1
            }
            var counted = 0
            for _ in 0..<300 where counted == 0 {
                try await Task.sleep(nanoseconds: 100_000_000)
                counted = try await failures()
            }
            #expect(counted >= 1, "the failed background ingest was not counted")
            lease = nil   // the other ingest ends: the watcher's next try succeeds
            var found = false
            for _ in 0..<300 where !found {
                try await Task.sleep(nanoseconds: 100_000_000)
                let search = try await client.send("POST", "/v1/search", json: ["query": "silk weavers"])
                found = (try search.json()["results"] as? [[String: Any]] ?? []).contains { ($0["path"] as? String)?.hasSuffix("/docs/lyon.md") == true }
            }
            #expect(found, "the watcher did not try again once the lock was free")
            withExtendedLifetime(lease) {}
        }
    }

    @Test func changedFilesAreIngestedWhileServing() async throws {
        let ws = Workspace()
        try await withServer(try ws.knowledgeBase(), watch: 0.2) { client in
            try "# Paris\n\nThe Eiffel Tower was completed in 1889.\n".write(toFile: ws.path + "/docs/paris.md", atomically: true, encoding: .utf8)
            func pathsFound() async throws -> [String] {
                let search = try await client.send("POST", "/v1/search", json: ["query": "Eiffel Tower"])
                #expect(search.status == 200)   // searches keep working while the watcher ingests
                return (try search.json()["results"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            }
            // Up to 30 s: the watcher's ingest embeds on low-priority threads, slow while the other tests run.
            var found = false
            for _ in 0..<300 where !found {
                try await Task.sleep(nanoseconds: 100_000_000)
                found = try await pathsFound().contains { $0.hasSuffix("/docs/paris.md") }
            }
            #expect(found, "the new file was not ingested")
            try FileManager.default.removeItem(atPath: ws.path + "/docs/paris.md")
            var gone = false
            for _ in 0..<300 where !gone {
                try await Task.sleep(nanoseconds: 100_000_000)
                gone = try await !pathsFound().contains { $0.hasSuffix("/docs/paris.md") }
            }
            #expect(gone, "the deleted file is still searchable")
            let metrics = try await client.send("GET", "/metrics").text
            #expect(metrics.contains("kb_ingested_documents_total{outcome=\"added\"} 1"))
            #expect(metrics.contains("kb_ingested_documents_total{outcome=\"removed\"} 1"))
        }
    }

    @Test func aFullModelQueueAnswers429WithRetryAfter() async throws {
        let ws = Workspace()
        try await withServer(try ws.knowledgeBase(generator: SlowGenerator()), queue: 0) { client in
            async let first = client.send("POST", "/v1/ask", json: ["question": "When did the Colosseum in Rome open?"])
            try await Task.sleep(nanoseconds: 200_000_000)
            let second = try await client.send("POST", "/v1/ask", json: ["question": "When did the Colosseum close?"])
            #expect(second.status == 429)
            #expect(second.headers["retry-after"] == "2")
            #expect((try second.json()["error"] as? [String: Any])?["type"] as? String == "busy")
            #expect(try await first.status == 200)
            // The slot is free again.
            #expect(try await client.send("POST", "/v1/ask", json: ["question": "When did the Colosseum close?"]).status == 200)
        }
    }

    @Test func aSlowAnswerIsStoppedAtTheRequestTimeout() async throws {
        let ws = Workspace()
        try await withServer(try ws.knowledgeBase(generator: SlowGenerator()), timeout: 0.2) { client in
            let plain = try await client.send("POST", "/v1/ask", json: ["question": "When did the Colosseum in Rome open?"])
            #expect(plain.status == 504)
            #expect((try plain.json()["error"] as? [String: Any])?["type"] as? String == "timeout")
            let streamed = try await client.send("POST", "/v1/ask", json: ["question": "When did the Colosseum in Rome open?", "stream": true])
            #expect(events(streamed.text).last?.event == "error")
            #expect(streamed.text.contains("\"timeout\""))
        }
    }

    @Test func openAICompatibleChatCompletions() async throws {
        let ws = Workspace()
        try await withServer(try ws.knowledgeBase()) { client in
            let models = try await client.send("GET", "/v1/models")
            #expect((try models.json()["data"] as? [[String: Any]])?.first?["id"] as? String == "kb")
            let messages: [[String: Any]] = [["role": "system", "content": "Be brief."], ["role": "user", "content": "When did the Colosseum in Rome open?"]]
            let plain = try await client.send("POST", "/v1/chat/completions", json: ["model": "kb", "messages": messages])
            #expect(plain.status == 200)
            let body = try plain.json()
            let message = ((body["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String ?? ""
            #expect(message.contains("80 AD"))
            #expect(message.contains("Sources:\n[1] \(ws.path)/docs/rome.md (line 3) · Colosseum"))
            #expect(((body["kb"] as? [String: Any])?["citations"] as? [[String: Any]])?.isEmpty == false)

            let followUp = messages + [["role": "assistant", "content": message], ["role": "user", "content": "and when did it close?"]]
            let streamed = try await client.send("POST", "/v1/chat/completions", json: ["model": "kb", "messages": followUp, "stream": true])
            #expect(streamed.status == 200)
            let chunks = events(streamed.text)
            #expect(chunks.last?.data == "[DONE]")
            let text = chunks.dropLast().compactMap { chunk -> String? in
                let json = try? JSONSerialization.jsonObject(with: Data(chunk.data.utf8)) as? [String: Any]
                return ((json?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
            }.joined()
            #expect(text.contains("6th century"))
            #expect(text.contains("Sources:"))
            #expect(try await client.send("POST", "/v1/chat/completions", json: ["model": "kb", "messages": []], valid: false).status == 400)
        }
    }
}
