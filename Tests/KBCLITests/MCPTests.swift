import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KBCore
import Testing

/// kb's MCP server driven by the official MCP Python SDK (pinned in scripts/test.sh): over stdio with `kb mcp` as
/// the host's subprocess, and over Streamable HTTP on a running `kb serve`.
@Suite(.serialized) struct MCPTests {
    static let script = RepositoryModels.root.appendingPathComponent("Tests/KBCLITests/Scripts/mcp_client.py").path
    static let slowModel = RepositoryModels.root.appendingPathComponent("Tests/KBCLITests/Scripts/slow_llm.py").path

    static func workspace() throws -> Workspace {
        let ws = Workspace()
        ws.write("docs/rome.md", "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus. It closed as an arena in the 6th century.\n")
        ws.write("docs/other/note.txt", "Nothing here about Rome.\n")
        #expect(try ws.kb("ingest", "docs", "--no-embed").status == 0)
        return ws
    }

    /// Starts slow_llm.py (a slow OpenAI-compatible model server): the process, its output lines and its port.
    /// Stop it with SIGKILL: a child of the test runner may inherit a mask that blocks SIGTERM.
    static func slowModelServer() throws -> (Process, LineReader, Int) {
        let model = Process()
        model.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        model.arguments = ["-u", slowModel]
        let modelOut = Pipe()
        model.standardOutput = modelOut
        model.standardError = FileHandle.nullDevice
        try model.run()
        let lines = LineReader(modelOut.fileHandleForReading)
        guard let portLine = lines.next(matching: "port ", within: 10), let port = Int(portLine.dropFirst(5)) else {
            kill(model.processIdentifier, SIGKILL)
            throw KBError(.io, "slow_llm.py did not say its port")
        }
        return (model, lines, port)
    }

    /// Runs the client script (at most two minutes) and decodes the JSON it prints.
    static func client(_ arguments: [String], in ws: Workspace, script: String = MCPTests.script) throws -> [String: Any] {
        guard FileManager.default.isExecutableFile(atPath: ServeProcessTests.venvPython) else {
            throw KBError(.io, "no \(ServeProcessTests.venvPython): run scripts/test.sh, which creates it with the mcp package")
        }
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        python.arguments = ["180", ServeProcessTests.venvPython, script] + arguments
        python.currentDirectoryURL = URL(fileURLWithPath: ws.path)
        python.environment = KBProcess.environment(in: ws.path)
        // Standard error goes to a file, so that a chatty client can never fill a pipe nobody reads.
        let errorPath = ws.path + "/.client-stderr-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let errorFile = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        let out = Pipe()
        python.standardOutput = out
        python.standardError = errorFile
        try python.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        python.waitUntilExit()
        try errorFile.close()
        let errors = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        guard python.terminationStatus == 0, let seen = try JSONSerialization.jsonObject(with: output) as? [String: Any] else {
            throw KBError(.io, "\((script as NSString).lastPathComponent) failed (status \(python.terminationStatus)): \(errors.suffix(3000))")
        }
        return seen
    }

    /// What both transports must show: the tools, structured results, progress, follow-ups, abstention, reading
    /// around a hit, listing, and MCP errors for bad arguments.
    /// - Parameter progressInOrder: over stdio progress and the result share one stream, so the last progress (with the
    ///   answer's text) arrives before the result; over HTTP the SDK sends progress on the session's GET stream, which
    ///   may lag the result, so only some progress is required.
    static func checkSession(_ seen: [String: Any], progressInOrder: Bool) throws {
        #expect(seen["server"] as? String == "kb")
        #expect(["2025-11-25", "2025-06-18", "2025-03-26"].contains(seen["protocol"] as? String ?? ""))
        #expect(seen["tools"] as? [String] == ["ask", "list_documents", "read", "search", "status"])
        let schemas = try #require(seen["schemas"] as? [String: [String: Any]])
        for tool in ["ask", "list_documents", "read", "search", "status"] {
            #expect(schemas[tool]?["input"] as? String == "object" && schemas[tool]?["output"] as? String == "object", "\(tool) schemas")
        }
        #expect(schemas["search"]?["required"] as? [String] == ["query"])

        let search = try #require(seen["search"] as? [String: Any])
        #expect(search["is_error"] as? Bool == false)
        let results = try #require((search["structured"] as? [String: Any])?["results"] as? [[String: Any]])
        let top = try #require(results.first)
        #expect((top["path"] as? String)?.hasSuffix("docs/rome.md") == true)
        #expect(top["start_line"] as? Int == 3 && top["heading"] as? String == "Colosseum")
        #expect((top["snippet"] as? String)?.contains("80 AD") == true)
        #expect((top["explanation"] as? [String: Any])?["keyword_rank"] as? Int == 1, "why it was retrieved")
        #expect((search["text"] as? String)?.contains("docs/rome.md:L3") == true)

        let ask = try #require(seen["ask"] as? [String: Any])
        let answer = try #require(ask["structured"] as? [String: Any])
        #expect(answer["abstained"] as? Bool == false)
        #expect((answer["answer"] as? String)?.contains("80 AD") == true)
        let citation = try #require((answer["citations"] as? [[String: Any]])?.first)
        #expect((citation["path"] as? String)?.hasSuffix("docs/rome.md") == true)
        #expect(citation["supported"] as? Bool == true && citation["start_line"] as? Int == 3)
        #expect(((answer["quality"] as? [String: Any])?["groundedness"] as? Double ?? 0) > 0.9)
        #expect((ask["text"] as? String)?.contains("[1] ") == true)
        let progress = try #require(seen["progress"] as? [[String: Any]])
        #expect(!progress.isEmpty, "progress while answering")
        if progressInOrder {
            #expect(progress.first?["message"] as? String == "retrieving passages")
            #expect(progress.contains { ($0["message"] as? String)?.contains("80 AD") == true }, "progress: \(progress)")
        }

        let follow = try #require(seen["follow_up"] as? [String: Any])
        #expect(follow["conversation_id"] as? String == answer["conversation_id"] as? String)
        #expect(follow["turn"] as? Int == 2)
        let abstain = try #require(seen["abstain"] as? [String: Any])
        #expect(abstain["abstained"] as? Bool == true)
        #expect((abstain["passages"] as? [Any]) != nil)

        let chunk = try #require(seen["read_chunk"] as? [String: Any])
        #expect(chunk["text"] as? String == top["text"] as? String)
        let lines = try #require(seen["read_lines"] as? [String: Any])
        #expect(lines["text"] as? String == "# Colosseum\n\nThe Colosseum in Rome opened in 80 AD under emperor Titus. It closed as an arena in the 6th century.")
        #expect(lines["total_lines"] as? Int == 3 && lines["source"] as? String == "file")

        let documents = try #require((seen["documents"] as? [String: Any])?["documents"] as? [[String: Any]])
        #expect(documents.count == 1 && documents.first?["format"] as? String == "markdown")
        let inFolder = try #require((seen["documents_in_folder"] as? [String: Any])?["documents"] as? [[String: Any]])
        #expect(inFolder.map { $0["path"] as? String ?? "" }.allSatisfy { $0.hasSuffix("docs/other/note.txt") } && inFolder.count == 1)
        #expect((seen["status"] as? [String: Any])?["documents"] as? Int == 2)

        let errors = try #require(seen["errors"] as? [String: [String: Any]])
        for (name, fragment) in [("unknown_tool", "Unknown tool \"delete_everything\""), ("missing_field", "Field \"query\" is required"),
                                 ("wrong_type", "Field \"k\" must be an integer"), ("unknown_field", "Unknown field \"limit\""),
                                 ("empty_query", "Field \"query\" is empty"), ("outside", "/etc/passwd is neither a document"),
                                 ("dotdot", "is neither a document")] {
            #expect(errors[name]?["code"] as? Int == -32602, "\(name): \(errors[name] ?? [:])")
            #expect((errors[name]?["message"] as? String)?.contains(fragment) == true, "\(name): \(errors[name] ?? [:])")
        }
        // A chunk that does not exist is a failed call the model can read, not a protocol error.
        #expect(errors["no_such_chunk"]?["is_error"] as? Bool == true)
        #expect((errors["no_such_chunk"]?["text"] as? String)?.contains("no chunk 987654") == true)
        #expect(seen["after_errors"] as? Int == 2, "the server still answers")
    }

    @Test func stdioWithTheOfficialClient() async throws {
        let ws = try Self.workspace()
        let seen = try Self.client(["stdio", KBProcess.binary, ws.path], in: ws)
        try Self.checkSession(seen, progressInOrder: true)
    }

    @Test func streamableHTTPBehindTheToken() async throws {
        let ws = try Self.workspace()
        let token = "mcp-token-0123456789abcdef"
        let (server, port) = try ServeProcessTests.serve(in: ws, token: token)
        defer { server.terminate(); server.waitUntilExit() }
        let seen = try Self.client(["http", "http://127.0.0.1:\(port)/mcp", token], in: ws)
        try Self.checkSession(seen, progressInOrder: false)
        #expect(seen["no_token"] as? String == "MCPError")
        #expect(seen["no_token_status"] as? Int == 401)
        #expect(seen["foreign_origin_status"] as? Int == 403, "a page from another origin is refused")
    }

    /// A client that goes away while kb writes the answer stops the generation: the model server sees kb close
    /// its stream within seconds, and the daemon goes on serving.
    @Test func aClientThatDisconnectsMidAnswerCancelsTheGeneration() async throws {
        let ws = try Self.workspace()
        let (model, lines, modelPort) = try Self.slowModelServer()
        defer { kill(model.processIdentifier, SIGKILL); model.waitUntilExit() }

        let token = "mcp-token-0123456789abcdef"
        let (server, port) = try ServeProcessTests.serve(in: ws, token: token, environment: [
            "KB_GENERATOR": "openai", "KB_GENERATION_ENDPOINT": "http://127.0.0.1:\(modelPort)/v1"])
        defer { server.terminate(); server.waitUntilExit() }

        let client = Process()
        client.executableURL = URL(fileURLWithPath: ServeProcessTests.venvPython)
        client.arguments = [Self.script, "hang", "http://127.0.0.1:\(port)/mcp", token, "When did the Colosseum in Rome open?"]
        client.standardOutput = FileHandle.nullDevice
        client.standardError = FileHandle.nullDevice
        try client.run()
        #expect(lines.next(matching: "streaming", within: 30) != nil, "the model started writing")
        kill(client.processIdentifier, SIGKILL)
        client.waitUntilExit()
        let started = Date()
        let closed = lines.next(matching: "disconnected", within: 15)
        #expect(closed != nil, "kb kept generating for a client that was gone")
        #expect(Date().timeIntervalSince(started) < 10)
        // The daemon still serves.
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/v1/status")!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
    }
}

extension MCPTests {
    /// Over stdio a host stops an answer by cancelling the call (`notifications/cancelled`) or by closing kb's input;
    /// either way the model server sees kb close its stream, and after a cancel the server goes on answering.
    @Test func stdioCancelAndCloseStopTheGeneration() async throws {
        let ws = try Self.workspace()
        let (model, modelLines, modelPort) = try Self.slowModelServer()
        defer { kill(model.processIdentifier, SIGKILL); model.waitUntilExit() }

        let mcp = Process()
        mcp.executableURL = URL(fileURLWithPath: KBProcess.binary)
        mcp.arguments = ["mcp"]
        mcp.currentDirectoryURL = URL(fileURLWithPath: ws.path)
        mcp.environment = KBProcess.environment(in: ws.path, ["KB_GENERATOR": "openai", "KB_GENERATION_ENDPOINT": "http://127.0.0.1:\(modelPort)/v1"])
        let input = Pipe(), output = Pipe()
        mcp.standardInput = input
        mcp.standardOutput = output
        mcp.standardError = FileHandle.nullDevice
        try mcp.run()
        defer { if mcp.isRunning { kill(mcp.processIdentifier, SIGKILL) } }
        let replies = LineReader(output.fileHandleForReading)
        func send(_ message: String) { input.fileHandleForWriting.write(Data((message + "\n").utf8)) }
        send(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}"#)
        #expect(replies.next(matching: #"{"id":1"#, within: 30) != nil)
        send(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)

        send(#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ask","arguments":{"question":"When did the Colosseum in Rome open?"}}}"#)
        #expect(modelLines.next(matching: "streaming", within: 30) != nil, "the model started writing")
        send(#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"user stopped it"}}"#)
        #expect(modelLines.next(matching: "disconnected", within: 10) != nil, "a cancelled call stopped the generation")
        send(#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"status","arguments":{}}}"#)
        let status = replies.next(matching: #"{"id":3"#, within: 30)
        #expect(status?.contains(#""documents":2"#) == true, "the server answers after a cancel: \(status ?? "nothing")")

        send(#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"ask","arguments":{"question":"When did the Colosseum close?"}}}"#)
        #expect(modelLines.next(matching: "streaming", within: 30) != nil)
        try input.fileHandleForWriting.close()   // the host went away
        #expect(modelLines.next(matching: "disconnected", within: 10) != nil, "closing kb's input stopped the generation")
        let deadline = Date().addingTimeInterval(10)
        while mcp.isRunning && Date() < deadline { usleep(50_000) }
        #expect(!mcp.isRunning, "kb mcp exits when its input closes")
    }
}

/// Reads a child's standard output line by line, with a deadline.
final class LineReader: @unchecked Sendable {
    private let handle: FileHandle
    private var buffer = ""
    init(_ handle: FileHandle) { self.handle = handle }

    /// The first line starting with `prefix` that arrives within `seconds`, or nil.
    func next(matching prefix: String, within seconds: Double) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        let fd = handle.fileDescriptor
        while Date() < deadline {
            while let newline = buffer.firstIndex(of: "\n") {
                let line = String(buffer[..<newline])
                buffer = String(buffer[buffer.index(after: newline)...])
                if line.hasPrefix(prefix) { return line }
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            var bytes = [UInt8](repeating: 0, count: 4096)
            let count = read(fd, &bytes, bytes.count)
            if count <= 0 { return nil }
            buffer += String(decoding: bytes[0..<count], as: UTF8.self)
        }
        return nil
    }
}

/// kb's web page in a real browser (Debian's chromium, headless, driven by selenium; see web_check.py) against a
/// running `kb serve` with a token.
@Suite(.serialized) struct WebPageTests {
    static let script = RepositoryModels.root.appendingPathComponent("Tests/KBCLITests/Scripts/web_check.py").path

    @Test func askSearchReadRateInABrowser() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") else {
            Issue.record("no /usr/bin/chromedriver: run scripts/test.sh, which installs chromium and chromium-driver")
            return
        }
        let ws = try MCPTests.workspace()
        ws.write("docs/evil.txt", "Notes on markup.\n\n<script>window.__pwned = 1</script> and <img src=x onerror=\"window.__pwned = 2\"> are shown as text.\n")
        ws.write("docs/rail.md", "# 科兰支线\n\n科兰支线铁路于一九六二年停止运营。\n")
        ws.write("docs/broken.txt", "\u{0}\u{1}\u{2}\u{0}binary")
        _ = try ws.kb("ingest", "docs", "--no-embed")
        let token = "web-token-0123456789abcdef"
        let (server, port) = try ServeProcessTests.serve(in: ws, token: token)
        defer { server.terminate(); server.waitUntilExit() }
        let shots = ProcessInfo.processInfo.environment["KB_SCREENSHOTS"].map { [$0] } ?? []
        let seen = try MCPTests.client(["check", "http://127.0.0.1:\(port)", token] + shots, in: ws, script: Self.script)
        #expect(seen["timeout"] == nil, "the browser got stuck: \(seen["timeout"] ?? "") \(seen["page_text"] ?? "") \(seen["console"] ?? "")")

        // Asked for the token once, kept it out of URLs; the answer streamed, then was checked and cited.
        #expect(seen["token_prompt"] as? Bool == true && seen["token_stored"] as? Bool == true && seen["token_in_url"] as? Bool == false)
        #expect(Int(seen["first_token_ms"] as? String ?? "") != nil, "a token event arrived before the answer")
        #expect((seen["answer_text"] as? String)?.contains("80 AD") == true)
        #expect((seen["cite_links"] as? [String])?.first?.contains("-source-1") == true)
        #expect((seen["evidence"] as? [String])?.first == "The Colosseum in Rome opened in 80 AD under emperor Titus.", "the supporting sentence is highlighted")
        #expect((seen["quality_shown"] as? Int ?? 0) >= 3)
        #expect((seen["explanation"] as? String)?.contains("keyword #1") == true)
        #expect((seen["follow_up_text"] as? String)?.contains("6th century") == true)
        #expect((seen["conversation_url"] as? String)?.contains("/ask?conversation=c_") == true)
        // The citation opened the document at its lines; the conversation list continued it.
        #expect((seen["source_url"] as? String)?.hasSuffix("#L3-L3") == true)
        #expect((seen["source_target"] as? String)?.contains("opened in 80 AD") == true)
        #expect(seen["resumed_turns"] as? Int == 2 && seen["resumed_url"] as? String == seen["conversation_url"] as? String)
        #expect((seen["stored_source_url"] as? String)?.contains("#chunk-") == true, "\(seen["stored_source_url"] ?? "")")
        #expect((seen["stored_source_target"] as? String)?.contains("opened in 80 AD") == true)
        // Search with highlights, the mode switch and the explanation.
        #expect((seen["search_results"] as? Int ?? 0) >= 1 && (seen["search_marks"] as? [String])?.contains("Colosseum") == true)
        #expect((seen["search_why"] as? String)?.contains("keyword #1") == true)
        #expect((seen["keyword_mode_url"] as? String)?.contains("mode=keyword") == true)
        // Markup in a document is shown as characters and never runs.
        #expect((seen["markup_text"] as? String)?.contains("<script>window.__pwned = 1</script>") == true)
        #expect((seen["markup_text"] as? String)?.contains("<img src=x onerror=") == true)
        #expect(seen["markup_elements"] as? Int == 0 && seen["markup_elements_in_results"] as? Int == 0 && seen["pwned"] is NSNull)
        #expect((seen["markup_snippets"] as? [String])?.first?.contains("<script>") == true, "\(seen["markup_snippets"] ?? "")")
        #expect(seen["after_cite_turns"] as? Int == 1 && seen["after_cite_same_card"] as? Bool == true)
        #expect((seen["after_cite_hash"] as? String)?.hasSuffix("-source-1") == true)
        // A document at a line, the documents with the failed file, status, feedback.
        #expect(seen["line_target_id"] as? String == "L3" && (seen["chunk_marked_lines"] as? Int ?? 0) >= 1)
        #expect(seen["document_rows"] as? Int == 4 && seen["markdown_rows"] as? Int == 2)
        #expect((seen["failed_files"] as? String)?.contains("broken.txt") == true)
        #expect(seen["status_documents"] as? String == "4")
        #expect(seen["feedback_down"] as? String == "1" && (seen["feedback_comment"] as? String)?.contains("needs the closing date too") == true)
        // Chinese: by the switch and by the browser's language; CJK text highlighted.
        #expect((seen["chinese_nav"] as? String)?.contains("提问") == true && seen["html_lang"] as? String == "zh-CN")
        #expect((seen["zh_browser_nav"] as? String)?.contains("提问") == true)
        #expect((seen["chinese_marks"] as? [String])?.contains("停止运营") == true)
        // Small, self-contained, no errors.
        #expect((seen["first_load_bytes"] as? Int ?? .max) <= 150_000)
        #expect((seen["foreign_requests"] as? [String])?.isEmpty == true)
        #expect((seen["console_errors"] as? [String])?.isEmpty == true, "\(seen["console_errors"] ?? "")")

        // The rating given in the browser is in `kb feedback report`.
        let report = try ws.kb("feedback", "report", "--json").json()
        #expect(report["down"] as? Int == 1)
        let worst = try #require((report["worst"] as? [[String: Any]])?.first)
        #expect((worst["comments"] as? [String]) == ["needs the closing date too"])
    }
}
