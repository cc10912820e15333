import Foundation
import KBCore
import KBServer
import KBTestSupport
import Testing

/// Per-user tokens and roles over HTTP, on a real daemon with a real SQLite file.
@Suite(.serialized) struct UserTests {
    @Test func onceUsersExistEveryRequestNeedsATokenAndRolesDecide() async throws {
        let ws = Workspace()
        let kb = try await ws.knowledgeBase()
        let reader = try await kb.createToken(name: "ana", role: .reader)
        let writer = try await kb.createToken(name: "bo", role: .writer)
        let admin = try await kb.createToken(name: "cy", role: .admin)
        #expect(reader.token.hasPrefix("kb_") && reader.token.count == 67 && reader.token != writer.token)
        // No owner token: only the users' tokens open the API, loopback included.
        try await withServer(kb, token: nil) { client in
            #expect(try await client.send("GET", "/healthz").status == 200)
            #expect(try await client.send("GET", "/ask").status == 200, "the page itself is public; it asks for a token")
            let none = try await client.send("POST", "/v1/search", json: ["query": "Colosseum"])
            #expect(none.status == 401 && none.headers["www-authenticate"] == "Bearer")
            expectSchema(try none.json(), "error.schema.json")
            #expect(try await client.send("POST", "/v1/search", json: ["query": "Colosseum"], token: "kb_" + String(repeating: "0", count: 64)).status == 401)

            // Readers search, ask, read and rate.
            #expect(try await client.send("POST", "/v1/search", json: ["query": "Colosseum"], token: reader.token).status == 200)
            let asked = try await client.send("POST", "/v1/ask", json: ["question": "When did the Colosseum open?"], token: reader.token)
            #expect(asked.status == 200)
            let answer = try asked.json()
            let answerID = try #require(answer["answer_id"] as? String), conversation = try #require(answer["conversation_id"] as? String)
            #expect(try await client.send("POST", "/v1/feedback", json: ["answer_id": answerID, "rating": "up"], token: reader.token).status == 201)
            #expect(try await client.send("GET", "/v1/documents", token: reader.token).status == 200)
            // …and nothing else.
            let refused = try await client.send("POST", "/v1/documents", json: ["path": ws.path + "/docs"], token: reader.token)
            #expect(refused.status == 403)
            #expect(try refused.json()["error"].flatMap { ($0 as? [String: Any])?["message"] as? String }?.contains("reader") == true)
            #expect(try await client.send("DELETE", "/v1/documents/1", token: reader.token).status == 403)
            #expect(try await client.send("GET", "/v1/tokens", token: reader.token).status == 403)
            #expect(try await client.send("GET", "/v1/feedback", token: reader.token).status == 403)

            // Conversations are their owner's: another reader cannot see or continue them; an admin sees all.
            #expect(try await client.send("GET", "/v1/conversations/\(conversation)", token: reader.token).status == 200)
            #expect(try await client.send("GET", "/v1/conversations/\(conversation)", token: writer.token).status == 400)
            let continued = try await client.send("POST", "/v1/ask", json: ["question": "And when did it close?", "conversation_id": conversation],
                                                  token: writer.token)
            #expect(continued.status == 400)
            let mine = try await client.send("GET", "/v1/conversations", token: reader.token).json()["conversations"] as? [[String: Any]]
            #expect(mine?.map { $0["id"] as? String } == [conversation] && mine?.first?["user"] as? String == "ana")
            let theirs = try await client.send("GET", "/v1/conversations", token: writer.token).json()["conversations"] as? [[String: Any]]
            #expect(theirs?.isEmpty == true)
            #expect(try await client.send("GET", "/v1/conversations/\(conversation)", token: admin.token).status == 200)

            // Writers ingest and remove.
            #expect(try await client.send("POST", "/v1/documents", json: ["path": ws.path + "/docs", "embed": false], token: writer.token).status == 200)
            #expect(try await client.send("GET", "/v1/tokens", token: writer.token).status == 403)

            // Admins manage tokens over the API too; a revoked token stops working at once.
            let created = try await client.send("POST", "/v1/tokens", json: ["name": "di", "role": "reader"], token: admin.token)
            #expect(created.status == 201)
            let issued = try created.json()
            expectSchema(issued, "issued-token.schema.json")
            let token = try #require(issued["token"] as? String)
            #expect(issued["name"] as? String == "di" && issued["role"] as? String == "reader")
            #expect(try await client.send("POST", "/v1/search", json: ["query": "Titus"], token: token).status == 200)
            #expect(try await client.send("POST", "/v1/tokens", json: ["name": "di", "role": "admin"], token: admin.token).status == 409)
            #expect(try await client.send("POST", "/v1/tokens", json: ["name": "eve", "role": "root"], token: admin.token, valid: false).status == 400)
            let listed = try await client.send("GET", "/v1/tokens", token: admin.token)
            #expect(!listed.text.contains(token) && !listed.text.contains(reader.token), "tokens are never listed")
            #expect((try listed.json()["users"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["ana", "bo", "cy", "di"])
            #expect(try await client.send("DELETE", "/v1/tokens/di", token: admin.token).status == 200)
            #expect(try await client.send("POST", "/v1/search", json: ["query": "Titus"], token: token).status == 401)
            #expect(try await client.send("DELETE", "/v1/tokens/di", token: admin.token).status == 404)
        }
        // Feedback and conversations carry the user.
        let report = try await kb.feedbackReport()
        #expect(report.up == 1)
        let stored = try await kb.conversations(caller: .owner)
        #expect(stored.first?.user == "ana")
    }

    @Test func theOwnerTokenStillWorksBesideUsers() async throws {
        let ws = Workspace()
        let kb = try await ws.knowledgeBase()
        let reader = try await kb.createToken(name: "ana", role: .reader)
        try await withServer(kb, token: "owner-token-0123456789") { (client: Client) async throws in
            #expect(try await client.send("GET", "/v1/tokens").status == 200, "the owner token is an admin")
            #expect(try await client.send("POST", "/v1/search", json: ["query": "Colosseum"], token: reader.token).status == 200)
            #expect(try await client.send("POST", "/v1/search", json: ["query": "Colosseum"], token: .some(nil)).status == 401)
        }
        // Beyond loopback, revoking the last user does not open the daemon.
        try await kb.revokeToken(name: "ana")
        #expect(try await kb.authenticate(bearer: nil, ownerToken: nil) == .owner, "loopback without users: the owner")
        await #expect(throws: KBError.self) { _ = try await kb.authenticate(bearer: nil, ownerToken: nil, tokenRequired: true) }
        await #expect(throws: KBError.self) { _ = try await kb.authenticate(bearer: reader.token, ownerToken: nil, tokenRequired: true) }
        var settings = ServerSettings()
        settings.host = "0.0.0.0"
        #expect(throws: KBError.self) { try settings.validate() }
        settings.hasUsers = true
        #expect(throws: Never.self) { try settings.validate() }
    }
}
