import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import KBTestSupport
import KBCore

/// A `kb serve` process whose standard error goes to a file (a pipe nobody reads would fill and block it).
final class Daemon: @unchecked Sendable {
    let process: Process
    let port: Int
    let log: String
    let token: String

    init(in ws: Workspace, arguments: [String], token: String, environment: [String: String] = [:]) throws {
        log = ws.path + "/serve-\(UUID().uuidString.prefix(8)).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: log))
        process = Process()
        process.executableURL = URL(fileURLWithPath: KBProcess.binary)
        process.arguments = ["serve", "--port", "0", "--watch", "0"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: ws.path)
        process.environment = KBProcess.environment(in: ws.path, environment.merging(["KB_API_TOKEN": token]) { _, new in new })
        process.standardOutput = FileHandle.nullDevice
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        self.token = token
        try process.run()
        try? handle.close()
        var found = 0
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && found == 0 {
            let seen = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = seen.range(of: #"http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                found = Int(seen[range].split(separator: ":").last ?? "") ?? 0
            } else if !process.isRunning { break } else { usleep(20_000) }
        }
        port = found
        if port == 0 {
            _ = Foundation.kill(process.processIdentifier, SIGKILL)
            throw KBError(.io, "kb serve did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
    }

    /// Stops the daemon (SIGKILL: tests use it for both a crash and the end of the test).
    func kill() {
        _ = Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// One request; the JSON reply with its status.
    func send(_ method: String, _ path: String, json: [String: Any]? = nil, timeout: TimeInterval = 60) async throws -> DaemonReply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!, timeoutInterval: timeout)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        return try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error { continuation.resume(throwing: error); return }
                continuation.resume(returning: DaemonReply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, data: data ?? Data()))
            }.resume()
        }
    }
}

/// A daemon's reply.
struct DaemonReply: Sendable, CustomStringConvertible {
    var status: Int
    var data: Data
    var body: [String: Any] { (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:] }
    var description: String { "\(status) \(String(decoding: data.prefix(600), as: UTF8.self))" }
}

/// Several daemons in front of one PostgreSQL knowledge base.
@Suite(.serialized) struct TeamTests {
    static let token = "team-token-0123456789abcdef"

    @Test func twoDaemonsShareOneStoreAndOneSurvivesTheOtherBeingKilledMidIngest() async throws {
        guard let url = TestPostgres.scratch() else { return }
        let ws = Workspace()
        ws.write("KnowledgeBase/rome.md", "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus.\n")
        let first = try KBProcess.run(["ingest", "--no-embed", "--db", url], in: ws.path)
        #expect(first.status == 0, "\(first.stderr)")
        let a = try Daemon(in: ws, arguments: ["--db", url], token: Self.token)
        let b = try Daemon(in: ws, arguments: ["--db", url], token: Self.token)
        defer { a.kill(); b.kill() }

        // Ingested through one daemon, found through the other at once.
        ws.write("KnowledgeBase/bridge.md", "# 石桥\n\n这座石桥建于一六二三年，由当地商人出资修建。\n")
        let added = try await a.send("POST", "/v1/documents", json: ["path": ws.path + "/KnowledgeBase/bridge.md", "embed": false])
        #expect(added.status == 200 && added.body["added"] as? Int == 1, "\(added)")
        let found = try await b.send("POST", "/v1/search", json: ["query": "石桥是哪一年建的"])
        let top = (found.body["results"] as? [[String: Any]])?.first
        #expect((top?["path"] as? String)?.hasSuffix("KnowledgeBase/bridge.md") == true, "\(found)")

        // A large ingest through A; A is killed halfway.
        let files = 1000   // enough that the poll below catches the ingest midway even when it runs fast
        for i in 0..<files {
            let paragraph = (0..<12).map { "Note \(i) line \($0): the archive keeps record \(i * 31 + $0) about harbour \(i % 17)." }.joined(separator: " ")
            ws.write("KnowledgeBase/bulk/note-\(i).md", "# Note \(i)\n\n\(paragraph)\n\n## Details\n\n\(paragraph)\n")
        }
        let bulk = ws.path + "/KnowledgeBase/bulk"
        let ingest = Task { try? await a.send("POST", "/v1/documents", json: ["path": bulk, "embed": false], timeout: 120) }
        let store = try PostgresStore(url: url, create: false)
        var seen = 0
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            seen = try await store.documents().count - 2
            if seen >= 20 { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        a.kill()
        _ = await ingest.value
        #expect(seen >= 20 && seen < files, "the ingest was caught midway (\(seen) of \(files) files)")

        // B keeps serving; the store is consistent; B finishes the ingest without duplicates.
        let status = try await b.send("GET", "/v1/status")
        #expect(status.status == 200)
        #expect(try await b.send("POST", "/v1/search", json: ["query": "Colosseum Titus"]).status == 200)
        #expect(try await store.consistencyProblems().isEmpty)
        var finished = DaemonReply(status: 0, data: Data())
        for _ in 0..<50 {   // A's lease goes when PostgreSQL notices its connection closed
            finished = try await b.send("POST", "/v1/documents", json: ["path": bulk, "embed": false], timeout: 120)
            if finished.status != 503 { break }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        #expect(finished.status == 200, "\(finished)")
        let addedNow = finished.body["added"] as? Int ?? 0, unchanged = finished.body["unchanged"] as? Int ?? 0
        #expect(addedNow + unchanged == files && unchanged >= 20 - 1, "\(finished)")
        let documents = try await store.documents()
        #expect(documents.count == files + 2 && Set(documents.map(\.path)).count == documents.count, "no duplicates")
        #expect(try await store.consistencyProblems().isEmpty)
        b.kill()
        try await PostgresStore.dropDatabase(url)
    }
}

@Suite(.serialized) struct ConnectionLossTests {
    @Test func aRestartedServerMeans503ThenTheDaemonReconnectsAndNothingIsWrittenTwice() async throws {
        guard TestPostgres.scratch() != nil else { return }   // PostgreSQL can run here
        let port = 54331
        let base = try PostgresScript.run("start", port: port)
        defer { _ = try? PostgresScript.run("stop", port: port) }
        let url = String(base[...base.range(of: "/", options: .backwards)!.lowerBound]) + "kbrestart_" + UUID().uuidString.prefix(8).lowercased()
        let ws = Workspace()
        ws.write("KnowledgeBase/rome.md", "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus.\n")
        #expect(try KBProcess.run(["ingest", "--no-embed", "--db", url], in: ws.path).status == 0)
        let daemon = try Daemon(in: ws, arguments: ["--db", url], token: TeamTests.token)
        defer { daemon.kill() }
        let asked = try await daemon.send("POST", "/v1/ask", json: ["question": "When did the Colosseum open?"])
        #expect(asked.status == 200)
        let answerID = try #require(asked.body["answer_id"] as? String)

        // An ingest in flight when the server stops fails with 503.
        for i in 0..<300 {
            ws.write("KnowledgeBase/bulk/note-\(i).md", "# Note \(i)\n\n" + String(repeating: "The harbour archive keeps record \(i). ", count: 60) + "\n")
        }
        let bulk = ws.path + "/KnowledgeBase/bulk"
        let inFlight = Task { try await daemon.send("POST", "/v1/documents", json: ["path": bulk, "embed": false], timeout: 120) }
        try await Task.sleep(nanoseconds: 700_000_000)
        try PostgresScript.run("stop", port: port)
        let failed = try await inFlight.value
        #expect(failed.status == 503, "\(failed)")
        #expect(((failed.body["error"] as? [String: Any])?["message"] as? String)?.contains("PostgreSQL") == true, "\(failed)")

        // While it is down: 503 with a message, soon, for reads and writes alike.
        let started = Date()
        let search = try await daemon.send("POST", "/v1/search", json: ["query": "Colosseum"])
        #expect(search.status == 503 && Date().timeIntervalSince(started) < 10, "\(search)")
        #expect(try await daemon.send("POST", "/v1/feedback", json: ["answer_id": answerID, "rating": "down"]).status == 503)

        // Back up: the same daemon answers again without a restart.
        try PostgresScript.run("start", port: port)
        var again = DaemonReply(status: 0, data: Data())
        let back = Date()
        while Date().timeIntervalSince(back) < 30 {
            again = (try? await daemon.send("POST", "/v1/search", json: ["query": "Colosseum"], timeout: 10)) ?? DaemonReply(status: -1, data: Data())
            if again.status == 200 { break }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        print("connection loss: the daemon answered again \(String(format: "%.2f", Date().timeIntervalSince(back))) s after the server was back")
        #expect(again.status == 200, "\(again)")
        #expect(try await daemon.send("POST", "/v1/feedback", json: ["answer_id": answerID, "rating": "up"]).status == 201)
        let finished = try await daemon.send("POST", "/v1/documents", json: ["path": bulk, "embed": false], timeout: 120)
        #expect(finished.status == 200, "\(finished)")
        let store = try PostgresStore(url: url, create: false)
        let report = try await store.feedbackReport(worst: 5)
        #expect(report.up == 1 && report.down == 0, "only the rating that got 201 is stored: \(report)")
        let documents = try await store.documents()
        #expect(documents.count == 301 && Set(documents.map(\.path)).count == 301)
        #expect(try await store.consistencyProblems().isEmpty)
        daemon.kill()
        try await PostgresStore.dropDatabase(url)
    }
}

@Suite(.serialized) struct ReadReplicaTests {
    @Test func searchesGoToTheStandbyAndWritesToThePrimary() async throws {
        guard TestPostgres.scratch() != nil else { return }
        let base = try PostgresScript.run("start", port: 54332)
        defer {
            _ = try? PostgresScript.run("stop", port: 54333)
            _ = try? PostgresScript.run("stop", port: 54332)
        }
        let database = "kbreplica_" + UUID().uuidString.prefix(8).lowercased()
        let primary = String(base[...base.range(of: "/", options: .backwards)!.lowerBound]) + database
        let ws = Workspace()
        ws.write("KnowledgeBase/rome.md", "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus.\n")
        #expect(try KBProcess.run(["ingest", "--no-embed", "--db", primary], in: ws.path).status == 0)
        let standby = try PostgresScript.run("standby", port: 54333, ["54332"])
        let replica = String(standby[...standby.range(of: "/", options: .backwards)!.lowerBound]) + database
        let daemon = try Daemon(in: ws, arguments: ["--db", primary, "--read-db", replica], token: TeamTests.token)
        defer { daemon.kill() }

        // A document ingested through the daemon (into the primary) is found (on the standby) once replayed.
        ws.write("KnowledgeBase/bridge.md", "# 石桥\n\n这座石桥建于一六二三年，由当地商人出资修建。\n")
        let added = try await daemon.send("POST", "/v1/documents", json: ["path": ws.path + "/KnowledgeBase/bridge.md", "embed": false])
        #expect(added.status == 200, "\(added)")
        let started = Date()
        var lag = -1.0
        while Date().timeIntervalSince(started) < 20 {
            let found = try await daemon.send("POST", "/v1/search", json: ["query": "石桥是哪一年建的"])
            if ((found.body["results"] as? [[String: Any]])?.first?["path"] as? String)?.hasSuffix("bridge.md") == true {
                lag = Date().timeIntervalSince(started)
                break
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        #expect(lag >= 0, "the standby never showed the new document")
        print("read replica: searchable through the standby \(String(format: "%.3f", lag)) s after the ingest returned")

        // Answers are kept on the primary, and a follow-up finds the turn just written.
        let asked = try await daemon.send("POST", "/v1/ask", json: ["question": "When did the Colosseum in Rome open?"])
        #expect(asked.status == 200, "\(asked)")
        let conversation = try #require(asked.body["conversation_id"] as? String), answerID = try #require(asked.body["answer_id"] as? String)
        let followUp = try await daemon.send("POST", "/v1/ask", json: ["question": "Who was emperor then?", "conversation_id": conversation])
        #expect(followUp.status == 200 && followUp.body["turn"] as? Int == 2, "\(followUp)")
        #expect(try await daemon.send("POST", "/v1/feedback", json: ["answer_id": answerID, "rating": "up"]).status == 201)
        let status = try await daemon.send("GET", "/v1/status")
        #expect((status.body["database"] as? String)?.contains("searches: postgres://kb@127.0.0.1:54333/") == true, "\(status)")

        // With the standby gone, searches fail (they were going there) while writes still reach the primary.
        try PostgresScript.run("stop", port: 54333)
        #expect(try await daemon.send("POST", "/v1/search", json: ["query": "Colosseum"]).status == 503)
        #expect(try await daemon.send("POST", "/v1/feedback", json: ["answer_id": answerID, "rating": "down"]).status == 201)
        let report = try await PostgresStore(url: primary, create: false).feedbackReport(worst: 5)
        #expect(report.up == 1 && report.down == 1 && report.answers == 2)
        daemon.kill()
        try await PostgresStore.dropDatabase(primary)
    }
}
