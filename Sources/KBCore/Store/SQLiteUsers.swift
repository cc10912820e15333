import Foundation

extension SQLiteStore: UserStore {
    public func createUser(name: String, role: UserRole, tokenHash: String) async throws(KBError) {
        try await write { connection throws(KBError) in
            guard try connection.scalar("SELECT count(*) FROM users WHERE name = ?", [name]).int == 0 else {
                throw KBError(.conflict, "There is already a user \(name); to give them a new token, revoke the old one first (kb token revoke \(name)); their conversations stay with the name.",
                              details: ["field": "name"])
            }
            try connection.query("INSERT INTO users (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)",
                                 [name, role.rawValue, tokenHash, Date().timeIntervalSince1970])
        }
    }

    public func users() async throws(KBError) -> [APIUser] {
        try await read { connection throws(KBError) in
            try connection.query("SELECT name, role, created_at FROM users ORDER BY name").map {
                APIUser(name: $0.string(0), role: UserRole(rawValue: $0.string(1)) ?? .reader, createdAt: $0.double(2))
            }
        }
    }

    public func revokeUser(name: String) async throws(KBError) -> Bool {
        try await write { connection throws(KBError) in
            try connection.query("DELETE FROM users WHERE name = ?", [name])
            return connection.changes > 0
        }
    }

    public func checkToken(hash: String?) async throws(KBError) -> TokenCheck {
        try await read { connection throws(KBError) -> TokenCheck in
            if let hash, let row = try connection.query("SELECT name, role, created_at FROM users WHERE token_hash = ?", [hash]).first {
                return .user(APIUser(name: row.string(0), role: UserRole(rawValue: row.string(1)) ?? .reader, createdAt: row.double(2)))
            }
            return try connection.scalar("SELECT EXISTS (SELECT 1 FROM users)").int == 1 ? .unknown : .noUsers
        }
    }
}

extension SQLiteStore: StoreTransfer {
    public func storedChunks(documentID: Int) async throws(KBError) -> [StoredChunk] {
        try await read { connection throws(KBError) in
            try connection.query("""
                SELECT id, ordinal, text, heading, start_offset, end_offset, start_line, end_line, page, token_count, content_hash,
                       locator, ocr_confidence
                FROM chunks WHERE document_id = ? ORDER BY ordinal
                """, [documentID]).map { row in
                StoredChunk(id: row.int(0), draft: ChunkDraft(
                    ordinal: row.int(1), text: row.string(2), heading: row.string(3), range: row.int(4)..<max(row.int(4), row.int(5)),
                    startLine: row.int(6), endLine: row.int(7), page: row.optionalInt(8), tokenCount: row.int(9), contentHash: row.string(10),
                    locator: row.optionalString(11), ocrConfidence: row.optionalDouble(12)))
            }
        }
    }

    public func feedbackEntries() async throws(KBError) -> [FeedbackEntry] {
        try await read { connection throws(KBError) in
            try connection.query("SELECT answer_id, rating, comment, created_at, user_name FROM feedback ORDER BY id").map {
                FeedbackEntry(answerID: $0.string(0), rating: $0.int(1), comment: $0.optionalString(2), createdAt: $0.double(3),
                              user: $0.optionalString(4))
            }
        }
    }

    public func userRecords() async throws(KBError) -> [UserRecord] {
        try await read { connection throws(KBError) in
            try connection.query("SELECT name, role, created_at, token_hash FROM users ORDER BY name").map {
                UserRecord(user: APIUser(name: $0.string(0), role: UserRole(rawValue: $0.string(1)) ?? .reader, createdAt: $0.double(2)),
                           tokenHash: $0.string(3))
            }
        }
    }

    public func importConversation(_ conversation: Conversation) async throws(KBError) {
        try await write { connection throws(KBError) in
            try connection.transaction { () throws(KBError) in
                try connection.query("INSERT INTO conversations (id, title, created_at, updated_at, user_name) VALUES (?, ?, ?, ?, ?)",
                                     [conversation.id, conversation.title, conversation.createdAt, conversation.updatedAt, conversation.user])
                for answer in conversation.turns {
                    let (citations, passages, quality, attempts) = answer.jsonColumns
                    try connection.query("""
                        INSERT INTO answers (id, conversation_id, turn, question, standalone_question, language, answer, abstained,
                                             generator, model, citations, passages, quality, created_at, attempts)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, [answer.id, conversation.id, answer.turn, answer.question, answer.standaloneQuestion, answer.language,
                              answer.answer, answer.abstained ? 1 : 0, answer.generator, answer.model, citations, passages, quality,
                              answer.createdAt, attempts])
                }
            }
        }
    }

    public func importFeedback(_ entries: [FeedbackEntry]) async throws(KBError) {
        try await write { connection throws(KBError) in
            try connection.transaction { () throws(KBError) in
                for entry in entries {
                    try connection.query("INSERT INTO feedback (answer_id, rating, comment, created_at, user_name) VALUES (?, ?, ?, ?, ?)",
                                         [entry.answerID, entry.rating, entry.comment, entry.createdAt, entry.user])
                }
            }
        }
    }

    public func importUser(_ record: UserRecord) async throws(KBError) {
        try await write { connection throws(KBError) in
            try connection.query("INSERT INTO users (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)",
                                 [record.user.name, record.user.role.rawValue, record.tokenHash, record.user.createdAt])
        }
    }
}
