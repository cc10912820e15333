import Foundation

/// An answer as kept in the database: enough to continue a conversation, explain it and rate it.
public struct AnswerRecord: Sendable, Equatable, Codable {
    public struct Source: Sendable, Equatable, Codable {
        public var rank: Int
        public var path: String
        public var chunkID: String
        public var heading: String
        public var startLine: Int
        public var endLine: Int
        public var page: Int?
        public var score: Double
        /// For citations: whether the passage supports the answer.
        public var supported: Bool?
        /// The slide, sheet rows or OCR page (see ``Passage/locator``).
        public var locator: String?
        enum CodingKeys: String, CodingKey {
            case rank, path, heading, page, score, supported, locator
            case chunkID = "chunk_id", startLine = "start_line", endLine = "end_line"
        }
    }
    public var id: String
    public var conversationID: String
    public var turn: Int
    public var question: String
    public var standaloneQuestion: String
    public var language: String
    public var answer: String
    public var abstained: Bool
    public var generator: String
    public var model: String?
    public var citations: [Source]
    public var passages: [Source]
    public var quality: QualityScores
    public var createdAt: Double
    /// How the answer was reached: the first try and any repairs, in order (the one kept has no `rejected`).
    /// Empty for answers kept before kb stored attempts.
    public var attempts: [AnswerAttempt] = []

    enum CodingKeys: String, CodingKey {
        case id, turn, question, language, answer, abstained, generator, model, citations, passages, quality, attempts
        case conversationID = "conversation_id", standaloneQuestion = "standalone_question", createdAt = "created_at"
    }
}

/// A conversation and its turns, oldest first.
public struct Conversation: Sendable, Equatable, Codable {
    public var id: String
    public var title: String
    public var createdAt: Double
    public var updatedAt: Double
    public var turns: [AnswerRecord]
    /// The user whose conversation it is (nil: the owner's, or kept before there were users).
    public var user: String? = nil
    enum CodingKeys: String, CodingKey {
        case id, title, turns, user
        case createdAt = "created_at", updatedAt = "updated_at"
    }
}

/// A conversation in a list: its title and how many turns it has.
public struct ConversationSummary: Sendable, Equatable, Codable {
    public var id: String
    public var title: String
    public var createdAt: Double
    public var updatedAt: Double
    public var turns: Int
    /// The user whose conversation it is (nil: the owner's).
    public var user: String? = nil
    enum CodingKeys: String, CodingKey {
        case id, title, turns, user
        case createdAt = "created_at", updatedAt = "updated_at"
    }
}

/// What `kb feedback report` shows.
public struct FeedbackReport: Sendable, Equatable, Codable {
    public struct Day: Sendable, Equatable, Codable {
        public var date: String
        public var up: Int
        public var down: Int
    }
    public struct RatedAnswer: Sendable, Equatable, Codable {
        public var answer: AnswerRecord
        public var up: Int
        public var down: Int
        public var comments: [String]
    }
    public var answers: Int
    public var rated: Int
    public var up: Int
    public var down: Int
    /// Ratings per day (UTC), oldest first.
    public var days: [Day]
    /// The answers with the most down-votes (net score lowest first), with their sources and scores.
    public var worst: [RatedAnswer]
}

/// Conversations, answers and feedback in the knowledge base's database.
public protocol ConversationStore: Sendable {
    /// Creates a conversation titled after its first question, kept for `user` (nil: the owner); returns its id.
    func createConversation(title: String, user: String?) async throws(KBError) -> String
    /// The conversation with its turns, or nil.
    func conversation(id: String) async throws(KBError) -> Conversation?
    /// The most recently continued conversations first, without their turns; only `user`'s when one is given.
    func conversations(limit: Int, user: String?) async throws(KBError) -> [ConversationSummary]
    /// Appends an answer to its conversation (its `turn` is assigned by the store) and returns the turn.
    @discardableResult func saveAnswer(_ answer: AnswerRecord) async throws(KBError) -> Int
    /// Stores a rating (+1 or −1) of an answer, by `user` (nil: the owner).
    func saveFeedback(answerID: String, rating: Int, comment: String?, user: String?) async throws(KBError)
    /// Totals, ratings per day and the worst-rated answers.
    func feedbackReport(worst: Int) async throws(KBError) -> FeedbackReport
}

extension SQLiteStore: ConversationStore {
    public func createConversation(title: String, user: String?) async throws(KBError) -> String {
        let id = "c_" + randomHex(8)
        let now = Date().timeIntervalSince1970
        try await write { connection throws(KBError) in
            try connection.query("INSERT INTO conversations (id, title, created_at, updated_at, user_name) VALUES (?, ?, ?, ?, ?)",
                                 [id, String(title.prefix(80)), now, now, user])
        }
        return id
    }

    public func conversations(limit: Int, user: String?) async throws(KBError) -> [ConversationSummary] {
        try await read { connection throws(KBError) in
            try connection.query("""
                SELECT c.id, c.title, c.created_at, c.updated_at, (SELECT count(*) FROM answers a WHERE a.conversation_id = c.id), c.user_name
                FROM conversations c WHERE ?1 IS NULL OR c.user_name = ?1 ORDER BY c.updated_at DESC, c.id LIMIT ?2
                """, [user, max(0, limit)]).map { row in
                ConversationSummary(id: row.string(0), title: row.string(1), createdAt: row.double(2), updatedAt: row.double(3),
                                    turns: row.int(4), user: row.optionalString(5))
            }
        }
    }

    public func conversation(id: String) async throws(KBError) -> Conversation? {
        try await read { connection throws(KBError) -> Conversation? in
            guard let row = try connection.query("SELECT id, title, created_at, updated_at, user_name FROM conversations WHERE id = ?", [id]).first else {
                return nil
            }
            let turns = try connection.query(Self.answerColumns + " WHERE conversation_id = ? ORDER BY turn", [id]).map(Self.answer)
            return Conversation(id: row.string(0), title: row.string(1), createdAt: row.double(2), updatedAt: row.double(3), turns: turns,
                                user: row.optionalString(4))
        }
    }

    @discardableResult
    public func saveAnswer(_ answer: AnswerRecord) async throws(KBError) -> Int {
        let (citations, passages, quality, attempts) = answer.jsonColumns
        return try await write { connection throws(KBError) -> Int in
            try connection.transaction { () throws(KBError) -> Int in
                guard try connection.scalar("SELECT count(*) FROM conversations WHERE id = ?", [answer.conversationID]).int == 1 else {
                    throw KBError(.invalidArgument, "There is no conversation \(answer.conversationID); start one without --conversation.")
                }
                let turn = (try connection.scalar("SELECT max(turn) FROM answers WHERE conversation_id = ?", [answer.conversationID]).int ?? 0) + 1
                try connection.query("""
                    INSERT INTO answers (id, conversation_id, turn, question, standalone_question, language, answer, abstained,
                                         generator, model, citations, passages, quality, created_at, attempts)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [answer.id, answer.conversationID, turn, answer.question, answer.standaloneQuestion, answer.language,
                          answer.answer, answer.abstained ? 1 : 0, answer.generator, answer.model, citations,
                          passages, quality, answer.createdAt, attempts])
                try connection.query("UPDATE conversations SET updated_at = ? WHERE id = ?", [answer.createdAt, answer.conversationID])
                return turn
            }
        }
    }

    public func saveFeedback(answerID: String, rating: Int, comment: String?, user: String?) async throws(KBError) {
        guard rating == 1 || rating == -1 else { throw KBError(.invalidArgument, "A rating is up (+1) or down (−1).") }
        try await write { connection throws(KBError) in
            guard try connection.scalar("SELECT count(*) FROM answers WHERE id = ?", [answerID]).int == 1 else {
                throw KBError(.invalidArgument, "There is no answer \(answerID) in this knowledge base; answer ids are printed by `kb ask` (--json: answer_id).")
            }
            try connection.query("INSERT INTO feedback (answer_id, rating, comment, created_at, user_name) VALUES (?, ?, ?, ?, ?)",
                                 [answerID, rating, comment.flatMap { $0.isEmpty ? nil : $0 }, Date().timeIntervalSince1970, user])
        }
    }

    public func feedbackReport(worst limit: Int) async throws(KBError) -> FeedbackReport {
        try await read { connection throws(KBError) -> FeedbackReport in
            let answers = try connection.scalar("SELECT count(*) FROM answers").int ?? 0
            let totals = try connection.query("""
                SELECT count(DISTINCT answer_id), coalesce(sum(rating = 1), 0), coalesce(sum(rating = -1), 0) FROM feedback
                """)[0]
            let days = try connection.query("""
                SELECT date(created_at, 'unixepoch') AS day, sum(rating = 1), sum(rating = -1)
                FROM feedback GROUP BY day ORDER BY day
                """).map { FeedbackReport.Day(date: $0.string(0), up: $0.int(1), down: $0.int(2)) }
            var worst: [FeedbackReport.RatedAnswer] = []
            let rows = try connection.query("""
                SELECT answer_id, sum(rating = 1), sum(rating = -1), group_concat(comment, char(31))
                FROM feedback GROUP BY answer_id HAVING sum(rating = -1) > 0
                ORDER BY sum(rating) ASC, sum(rating = -1) DESC, max(created_at) DESC LIMIT ?
                """, [limit])
            for row in rows {
                guard let answer = try connection.query(Self.answerColumns + " WHERE id = ?", [row.string(0)]).first.map(Self.answer) else { continue }
                let comments = row.optionalString(3).map { $0.split(separator: "\u{1F}").map(String.init) } ?? []
                worst.append(FeedbackReport.RatedAnswer(answer: answer, up: row.int(1), down: row.int(2), comments: comments))
            }
            return FeedbackReport(answers: answers, rated: totals.int(0), up: totals.int(1), down: totals.int(2), days: days, worst: worst)
        }
    }

    static let answerColumns = """
        SELECT id, conversation_id, turn, question, standalone_question, language, answer, abstained, generator, model,
               citations, passages, quality, created_at, attempts FROM answers
        """

    static func answer(_ row: SQLRow) -> AnswerRecord {
        let decoder = JSONDecoder()
        func decode<T: Decodable>(_ type: T.Type, _ text: String, _ fallback: T) -> T {
            (try? decoder.decode(type, from: Data(text.utf8))) ?? fallback
        }
        return AnswerRecord(
            id: row.string(0), conversationID: row.string(1), turn: row.int(2), question: row.string(3),
            standaloneQuestion: row.string(4), language: row.string(5), answer: row.string(6), abstained: row.int(7) == 1,
            generator: row.string(8), model: row.optionalString(9),
            citations: decode([AnswerRecord.Source].self, row.string(10), []), passages: decode([AnswerRecord.Source].self, row.string(11), []),
            quality: decode(QualityScores.self, row.string(12), QualityScores(groundedness: 0, citationAccuracy: nil, retrievalConfidence: 0, relevance: 0)),
            createdAt: row.double(13), attempts: decode([AnswerAttempt].self, row.string(14), []))
    }
}

/// `count` random bytes as hex.
func randomHex(_ count: Int) -> String {
    (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
}

extension AnswerRecord {
    /// The citations, passages, quality scores and attempts as the JSON the stores keep (keys sorted).
    var jsonColumns: (citations: String, passages: String, quality: String, attempts: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func json<T: Encodable>(_ value: T) -> String { (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null" }
        return (json(citations), json(passages), json(quality), json(attempts))
    }

    /// Decodes a record; one written by an older kb (no `attempts` key) has no attempts. In an extension, so the
    /// memberwise initializer stays.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            conversationID: try container.decode(String.self, forKey: .conversationID),
            turn: try container.decode(Int.self, forKey: .turn),
            question: try container.decode(String.self, forKey: .question),
            standaloneQuestion: try container.decode(String.self, forKey: .standaloneQuestion),
            language: try container.decode(String.self, forKey: .language),
            answer: try container.decode(String.self, forKey: .answer),
            abstained: try container.decode(Bool.self, forKey: .abstained),
            generator: try container.decode(String.self, forKey: .generator),
            model: try container.decodeIfPresent(String.self, forKey: .model),
            citations: try container.decode([Source].self, forKey: .citations),
            passages: try container.decode([Source].self, forKey: .passages),
            quality: try container.decode(QualityScores.self, forKey: .quality),
            createdAt: try container.decode(Double.self, forKey: .createdAt),
            attempts: try container.decodeIfPresent([AnswerAttempt].self, forKey: .attempts) ?? [])
    }

    /// The record kept for an answer.
    init(_ answer: Answer, conversationID: String) {
        self.init(
            id: answer.answerID, conversationID: conversationID, turn: 0, question: answer.question,
            standaloneQuestion: answer.standaloneQuestion, language: answer.language, answer: answer.answer,
            abstained: answer.abstained, generator: answer.generator.name, model: answer.generator.model,
            citations: answer.citations.map {
                Source(rank: $0.id, path: $0.path, chunkID: $0.chunkID, heading: $0.heading, startLine: $0.startLine,
                       endLine: $0.endLine, page: $0.page, score: 0, supported: $0.supported, locator: $0.locator)
            },
            passages: answer.passages.map {
                Source(rank: $0.rank, path: $0.path, chunkID: $0.chunkID, heading: $0.heading, startLine: $0.startLine,
                       endLine: $0.endLine, page: $0.page, score: $0.score, supported: nil, locator: $0.locator)
            },
            quality: answer.quality, createdAt: Date().timeIntervalSince1970, attempts: answer.attempts)
    }
}
