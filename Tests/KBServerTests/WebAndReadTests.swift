import Foundation
import KBCore
import KBServer
import KBTestSupport
import Testing

/// The page's routes, the rules that keep other sites out, and the reading endpoints the page and agents use.
@Suite struct WebAndReadTests {
    @Test func thePageIsServedWithoutTheTokenAndWithAStrictPolicy() async throws {
        let ws = Workspace()
        let kb = try await ws.knowledgeBase()
        try await withServer(kb) { client in
            var total = 0
            for path in ["/", "/ask", "/search", "/documents", "/documents/1", "/feedback", "/status"] {
                let page = try await client.send("GET", path, token: .some(nil))
                #expect(page.status == 200, "\(path)")
                #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
                let policy = try #require(page.headers["content-security-policy"])
                #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline") && policy.contains("connect-src 'self'"))
                #expect(page.headers["x-content-type-options"] == "nosniff")
                #expect(page.text.contains("<script src=\"/assets/app.js\" defer></script>"))
                total = page.body.count
            }
            for asset in ["app.js", "app.css", "icon.svg"] {
                let reply = try await client.send("GET", "/assets/\(asset)", token: .some(nil))
                #expect(reply.status == 200, "\(asset)")
                total += reply.body.count
            }
            #expect(total <= 150_000, "first load \(total) bytes")
            #expect(try await client.send("GET", "/assets/missing.js", token: .some(nil)).status == 404)
            // The data still needs the token.
            #expect(try await client.send("GET", "/v1/status", token: .some(nil)).status == 401)
            #expect(try await client.send("GET", "/v1/status").status == 200)
        }
    }

    @Test func otherSitesCannotChangeState() async throws {
        let ws = Workspace()
        let kb = try await ws.knowledgeBase()
        try await withServer(kb, token: nil) { client in
            let answer = try await client.send("POST", "/v1/ask", json: ["question": "When did the Colosseum open?"]).json()
            let id = try #require(answer["answer_id"] as? String)
            let rating: [String: Any] = ["answer_id": id, "rating": "up"]
            let foreign = try await client.send("POST", "/v1/feedback", json: rating, headers: ["Origin": "http://evil.example"])
            #expect(foreign.status == 403 && foreign.text.contains("another origin"))
            let crossSite = try await client.send("POST", "/v1/feedback", json: rating, headers: ["Sec-Fetch-Site": "cross-site"])
            #expect(crossSite.status == 403)
            let opaque = try await client.send("POST", "/v1/feedback", json: rating, headers: ["Origin": "null"])
            #expect(opaque.status == 403)
            // DNS rebinding: a loopback daemon answers only to loopback names.
            for host in ["attacker.example", "127.attacker.example:8080", "127.0.0.1.attacker.example", "[::2]:80"] {
                let rebound = try await client.send("GET", "/v1/status", headers: ["Host": host])
                #expect(rebound.status == 421, "\(host)")
            }
            for host in ["localhost:1", "127.0.0.1", "127.1.2.3:9", "[::1]:8080"] {
                #expect(try await client.send("GET", "/v1/status", headers: ["Host": host]).status == 200, "\(host)")
            }
            // An IPv6 origin matches its bracketed Host.
            let six = try await client.send("POST", "/v1/search", json: ["query": "Colosseum"],
                                            headers: ["Host": "[::1]:8080", "Origin": "http://[::1]:8080"])
            #expect(six.status == 200)
            // Its own page may.
            let own = try await client.send("POST", "/v1/feedback", json: rating, headers: ["Origin": client.base])
            #expect(own.status == 201)
            #expect(try await kb.feedbackReport().up == 1)
        }
    }

    @Test func documentsTextReadAndConversations() async throws {
        let ws = Workspace()
        try FileManager.default.createDirectory(atPath: ws.path + "/docs/sub", withIntermediateDirectories: true)
        try "Intro line.\n\n<script>alert(1)</script>\n".write(toFile: ws.path + "/docs/sub/markup.txt", atomically: true, encoding: .utf8)
        let kb = try await ws.knowledgeBase()
        try await withServer(kb) { client in
            let list = try await client.send("GET", "/v1/documents?format=markdown").json()
            let documents = try #require(list["documents"] as? [[String: Any]])
            #expect(documents.count == 1 && (documents.first?["path"] as? String)?.hasSuffix("rome.md") == true)
            #expect(list["failed"] as? [Any] != nil)
            let id = try #require(documents.first?["id"] as? Int)

            let text = try await client.send("GET", "/v1/documents/\(id)").json()
            expectSchema(text, "document-text.schema.json")
            #expect(text["source"] as? String == "file" && text["lines_match"] as? Bool == true)
            #expect((text["text"] as? String)?.hasPrefix("# Colosseum\n") == true)
            let chunks = try #require(text["chunks"] as? [[String: Any]])
            let body = try #require(text["text"] as? String)
            for chunk in chunks {
                let scalars = Array(body.unicodeScalars)
                let start = try #require(chunk["start_offset"] as? Int), end = try #require(chunk["end_offset"] as? Int)
                var view = String.UnicodeScalarView(); view.append(contentsOf: scalars[start..<end])
                #expect(String(view) == chunk["text"] as? String, "chunk offsets point into the text")
            }
            #expect(try await client.send("GET", "/v1/documents/999").status == 404)

            let read = try await client.send("POST", "/v1/read", json: ["path": "rome.md", "start_line": 3, "end_line": 3]).json()
            expectSchema(read, "excerpt.schema.json")
            let chunkID = try #require((text["chunks"] as? [[String: Any]])?.first?["chunk_id"] as? String)
            let chunk = try await client.send("POST", "/v1/read", json: ["chunk_id": chunkID]).json()
            expectSchema(chunk, "excerpt.schema.json")
            #expect(chunk["text"] as? String == (text["chunks"] as? [[String: Any]])?.first?["text"] as? String)
            #expect(read["text"] as? String == "The Colosseum in Rome opened in 80 AD under emperor Titus. It closed as an arena in the 6th century.")
            #expect(read["total_lines"] as? Int == 3)
            let outside = try await client.send("POST", "/v1/read", json: ["path": "/etc/passwd"])
            #expect(outside.status == 403)
            let both = try await client.send("POST", "/v1/read", json: ["path": "rome.md", "chunk_id": "1"], valid: false)
            #expect(both.status == 400 && both.text.contains("exactly one"))
            let backwards = try await client.send("POST", "/v1/read", json: ["path": "rome.md", "start_line": 3, "end_line": 2], valid: false)
            #expect(backwards.status == 400 && backwards.text.contains("end_line"))

            _ = try await client.send("POST", "/v1/ask", json: ["question": "When did the Colosseum open?"])
            let conversations = try #require(try await client.send("GET", "/v1/conversations").json()["conversations"] as? [[String: Any]])
            #expect(conversations.count == 1 && conversations.first?["turns"] as? Int == 1)
            #expect(try await client.send("GET", "/v1/status").json()["documents"] as? Int == 2)
            #expect(try await client.send("GET", "/v1/feedback").json()["answers"] as? Int == 1)
        }
    }

    /// Reading a document whose file changed since it was ingested shows the indexed text, joined from its chunks.
    @Test func aChangedFileIsReadFromItsChunks() async throws {
        let ws = Workspace()
        let kb = try await ws.knowledgeBase()
        try "# Colosseum\n\nSomething else entirely.\n".write(toFile: ws.path + "/docs/rome.md", atomically: true, encoding: .utf8)
        let id = try #require(try await kb.documents().first?.id)
        let document = try await kb.documentText(id: id)
        #expect(document.source == "chunks")
        #expect(document.text.contains("opened in 80 AD"))
        for chunk in document.chunks {
            let scalars = Array(document.text.unicodeScalars)
            var view = String.UnicodeScalarView(); view.append(contentsOf: scalars[chunk.startOffset..<chunk.endOffset])
            #expect(String(view) == chunk.text)
        }
    }
}
