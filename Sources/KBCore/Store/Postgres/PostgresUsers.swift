import Foundation
import PostgresNIO

extension PostgresStore: UserStore {
    public func createUser(name: String, role: UserRole, tokenHash: String) async throws(KBError) {
        try await run { [self] in
            let inserted = try await client.query("""
                INSERT INTO users (name, role, token_hash, created_at) VALUES (\(name), \(role.rawValue), \(tokenHash), \(Date().timeIntervalSince1970))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """, logger: logger).collect().count
            guard inserted == 1 else {
                throw KBError(.conflict, "There is already a user \(name); to give them a new token, revoke the old one first (kb token revoke \(name)); their conversations stay with the name.",
                              details: ["field": "name"])
            }
        }
    }

    public func users() async throws(KBError) -> [APIUser] {
        try await run { [self] in
            var out: [APIUser] = []
            for try await (name, role, created) in try await client.query("SELECT name, role, created_at FROM users ORDER BY name", logger: logger)
                .decode((String, String, Double).self) {
                out.append(APIUser(name: name, role: UserRole(rawValue: role) ?? .reader, createdAt: created))
            }
            return out
        }
    }

    public func revokeUser(name: String) async throws(KBError) -> Bool {
        try await run { [self] in
            try await client.query("DELETE FROM users WHERE name = \(name) RETURNING name", logger: logger).collect().count == 1
        }
    }

    public func checkToken(hash: String?) async throws(KBError) -> TokenCheck {
        try await run { [self] in
            // One round trip: the user holding the token, if any, and whether there are users at all.
            let rows = try await client.query("""
                SELECT u.name, u.role, u.created_at, EXISTS (SELECT 1 FROM users) FROM (SELECT 1) AS one
                LEFT JOIN users u ON u.token_hash = \(hash ?? "")
                """, logger: logger).decode((String?, String?, Double?, Bool).self)
            for try await (name, role, created, any) in rows {
                if let name, let role, let created { return .user(APIUser(name: name, role: UserRole(rawValue: role) ?? .reader, createdAt: created)) }
                return any ? .unknown : .noUsers
            }
            return .noUsers
        }
    }
}

extension PostgresStore: StoreTransfer {
    public func storedChunks(documentID: Int) async throws(KBError) -> [StoredChunk] {
        try await run { [self] in
            var out: [StoredChunk] = []
            let rows = try await client.query("""
                SELECT id, ordinal, text, heading, start_offset, end_offset, start_line, end_line, page, token_count, content_hash,
                       locator, ocr_confidence
                FROM chunks WHERE document_id = \(documentID) ORDER BY ordinal
                """, logger: logger)
            for try await (id, ordinal, text, heading, start, end, startLine, endLine, page, tokens, hash, locator, ocr) in
                rows.decode((Int, Int, String, String, Int, Int, Int, Int, Int?, Int, String, String?, Double?).self) {
                out.append(StoredChunk(id: id, draft: ChunkDraft(ordinal: ordinal, text: text, heading: heading, range: start..<max(start, end),
                                                                 startLine: startLine, endLine: endLine, page: page, tokenCount: tokens,
                                                                 contentHash: hash, locator: locator, ocrConfidence: ocr)))
            }
            return out
        }
    }

    public func feedbackEntries() async throws(KBError) -> [FeedbackEntry] {
        try await run { [self] in
            var out: [FeedbackEntry] = []
            for try await (answer, rating, comment, created, user) in try await client.query(
                "SELECT answer_id, rating::int, comment, created_at, user_name FROM feedback ORDER BY id", logger: logger)
                .decode((String, Int, String?, Double, String?).self) {
                out.append(FeedbackEntry(answerID: answer, rating: rating, comment: comment, createdAt: created, user: user))
            }
            return out
        }
    }

    public func userRecords() async throws(KBError) -> [UserRecord] {
        try await run { [self] in
            var out: [UserRecord] = []
            for try await (name, role, created, hash) in try await client.query(
                "SELECT name, role, created_at, token_hash FROM users ORDER BY name", logger: logger).decode((String, String, Double, String).self) {
                out.append(UserRecord(user: APIUser(name: name, role: UserRole(rawValue: role) ?? .reader, createdAt: created), tokenHash: hash))
            }
            return out
        }
    }

    public func importConversation(_ conversation: Conversation) async throws(KBError) {
        try await run { [self] in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("""
                    INSERT INTO conversations (id, title, created_at, updated_at, user_name)
                    VALUES (\(conversation.id), \(conversation.title), \(conversation.createdAt), \(conversation.updatedAt), \(conversation.user))
                    """, logger: logger)
                for answer in conversation.turns {
                    let (citations, passages, quality, attempts) = answer.jsonColumns
                    try await connection.query("""
                        INSERT INTO answers (id, conversation_id, turn, question, standalone_question, language, answer, abstained,
                                             generator, model, citations, passages, quality, created_at, attempts)
                        VALUES (\(answer.id), \(conversation.id), \(answer.turn), \(answer.question), \(answer.standaloneQuestion),
                                \(answer.language), \(answer.answer), \(answer.abstained), \(answer.generator), \(answer.model),
                                \(citations)::jsonb, \(passages)::jsonb, \(quality)::jsonb, \(answer.createdAt), \(attempts)::jsonb)
                        """, logger: logger)
                }
            }
        }
    }

    public func importFeedback(_ entries: [FeedbackEntry]) async throws(KBError) {
        guard !entries.isEmpty else { return }
        try await run { [self] in
            try await client.withTransaction(logger: logger) { connection in
                for entry in entries {
                    try await connection.query("""
                        INSERT INTO feedback (answer_id, rating, comment, created_at, user_name)
                        VALUES (\(entry.answerID), \(Int16(entry.rating)), \(entry.comment), \(entry.createdAt), \(entry.user))
                        """, logger: logger)
                }
            }
        }
    }

    public func importUser(_ record: UserRecord) async throws(KBError) {
        try await run { [self] in
            try await client.query("""
                INSERT INTO users (name, role, token_hash, created_at)
                VALUES (\(record.user.name), \(record.user.role.rawValue), \(record.tokenHash), \(record.user.createdAt))
                """, logger: logger)
        }
    }
}
