import Foundation

/// A request to the service layer, as any front end receives it (a JSON body, an MCP tool call, CLI flags):
/// decoded strictly — unknown fields, wrong types and out-of-range values are ``KBError/Code/invalidArgument``
/// errors that name the field — and checked against its schema in `Schemas/http`.
public protocol ServiceRequest: Decodable, Sendable {
    /// The JSON fields the request accepts (anything else is refused).
    static var fields: [String] { get }
}

/// Decodes service requests from JSON with errors a client can act on.
public enum RequestDecoder {
    /// Decodes `data` as a `T`. Throws ``KBError/Code/invalidArgument`` with `details["field"]` for a bad field,
    /// and code `invalid_json` for a body that is not a JSON object.
    public static func decode<T: ServiceRequest>(_ type: T.Type, from data: Data) throws(KBError) -> T {
        guard !data.isEmpty else { throw KBError(.invalidJSON, "The request needs a JSON body.") }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as KBError {
            throw error
        } catch let error as DecodingError {
            throw describe(error, fields: T.fields)
        } catch {
            throw KBError(.invalidJSON, "The request body is not a JSON object.")
        }
    }

    static func describe(_ error: DecodingError, fields: [String]) -> KBError {
        func field(_ path: [any CodingKey]) -> String { path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") }
        switch error {
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            guard !context.codingPath.isEmpty else { return KBError(.invalidJSON, "The request body is not a JSON object.") }
            let name = field(context.codingPath)
            return KBError(.invalidArgument, "Field \"\(name)\" must be \(describe(type)).", details: ["field": name])
        case .keyNotFound(let key, let context):
            let name = field(context.codingPath + [key])
            return KBError(.invalidArgument, "Field \"\(name)\" is required.", details: ["field": name])
        case .dataCorrupted(let context):
            guard !context.codingPath.isEmpty else { return KBError(.invalidJSON, "The request body is not a JSON object.") }
            let name = field(context.codingPath)
            return KBError(.invalidArgument, "Field \"\(name)\" has an invalid value.", details: ["field": name])
        @unknown default:
            return KBError(.invalidJSON, "The request body is not valid JSON.")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int?.Type: return "an integer"
        case is Bool.Type, is Bool?.Type: return "true or false"
        case is String.Type, is String?.Type: return "a string"
        case is Double.Type, is Double?.Type: return "a number"
        default: return "of another type"
        }
    }
}

extension KBError.Code {
    /// A request body that is not a JSON object.
    public static let invalidJSON = KBError.Code(name: "invalid_json")
}

/// Any JSON object key.
public struct FieldKey: CodingKey {
    public var stringValue: String
    public var intValue: Int?
    public init(_ name: String) { self.stringValue = name }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { self.stringValue = String(intValue); self.intValue = intValue }
}

extension Decoder {
    /// Refuses keys that are not in `allowed` (a ``KBError/Code/invalidArgument`` naming the field).
    public func rejectUnknownFields(_ allowed: [String]) throws {
        let container = try container(keyedBy: FieldKey.self)
        if let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !allowed.contains($0) }) {
            throw KBError(.invalidArgument, "Unknown field \"\(unknown)\"; allowed: \(allowed.sorted().joined(separator: ", ")).",
                          details: ["field": unknown])
        }
    }
}

/// Range and emptiness checks shared by the requests.
enum Validate {
    static func nonEmpty(_ value: String, _ field: String) throws(KBError) {
        if value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw KBError(.invalidArgument, "Field \"\(field)\" is empty; give some words.", details: ["field": field])
        }
    }

    static func range(_ value: Int?, _ field: String, _ range: ClosedRange<Int>) throws(KBError) {
        if let value, !range.contains(value) {
            throw KBError(.invalidArgument, "Field \"\(field)\" must be between \(range.lowerBound) and \(range.upperBound).",
                          details: ["field": field])
        }
    }

    static func mode(_ raw: String?, _ field: String = "mode") throws(KBError) -> SearchMode? {
        guard let raw else { return nil }
        guard let mode = SearchMode(rawValue: raw) else {
            throw KBError(.invalidArgument, "Field \"\(field)\" must be keyword, vector or hybrid.", details: ["field": field])
        }
        return mode
    }
}

/// `POST /v1/search` (`Schemas/http/search-request.schema.json`).
public struct SearchRequest: ServiceRequest, Equatable {
    public static let fields = ["query", "k", "mode"]
    public var query: String
    /// Results, 1…100 (default: the configuration's search limit).
    public var k: Int?
    public var mode: SearchMode?

    public init(query: String, k: Int? = nil, mode: SearchMode? = nil) {
        self.query = query
        self.k = k
        self.mode = mode
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.fields)
        let container = try decoder.container(keyedBy: FieldKey.self)
        query = try container.decode(String.self, forKey: FieldKey(stringValue: "query"))
        k = try container.decodeIfPresent(Int.self, forKey: FieldKey(stringValue: "k"))
        mode = try Validate.mode(try container.decodeIfPresent(String.self, forKey: FieldKey(stringValue: "mode")))
        try Validate.range(k, "k", 1...100)
    }
}

/// `POST /v1/ask` (`Schemas/http/ask-request.schema.json`).
public struct AskRequest: ServiceRequest, Equatable {
    public static let fields = ["question", "conversation_id", "k", "mode", "stream"]
    public var question: String
    public var conversationID: String?
    /// Passages shown to the generator, 1…50.
    public var k: Int?
    public var mode: SearchMode?
    /// Server-Sent Events instead of one JSON answer (transport option).
    public var stream: Bool?

    public init(question: String, conversationID: String? = nil, k: Int? = nil, mode: SearchMode? = nil, stream: Bool? = nil) {
        self.question = question
        self.conversationID = conversationID
        self.k = k
        self.mode = mode
        self.stream = stream
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.fields)
        let container = try decoder.container(keyedBy: FieldKey.self)
        question = try container.decode(String.self, forKey: FieldKey(stringValue: "question"))
        conversationID = try container.decodeIfPresent(String.self, forKey: FieldKey(stringValue: "conversation_id"))
        k = try container.decodeIfPresent(Int.self, forKey: FieldKey(stringValue: "k"))
        mode = try Validate.mode(try container.decodeIfPresent(String.self, forKey: FieldKey(stringValue: "mode")))
        stream = try container.decodeIfPresent(Bool.self, forKey: FieldKey(stringValue: "stream"))
        try Validate.range(k, "k", 1...50)
    }
}

/// `POST /v1/feedback` (`Schemas/http/feedback-request.schema.json`).
public struct FeedbackRequest: ServiceRequest, Equatable {
    public static let fields = ["answer_id", "rating", "comment"]
    public var answerID: String
    /// `up` or `down`.
    public var rating: String
    public var comment: String?

    public init(answerID: String, rating: String, comment: String? = nil) {
        self.answerID = answerID
        self.rating = rating
        self.comment = comment
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.fields)
        let container = try decoder.container(keyedBy: FieldKey.self)
        answerID = try container.decode(String.self, forKey: FieldKey(stringValue: "answer_id"))
        rating = try container.decode(String.self, forKey: FieldKey(stringValue: "rating"))
        comment = try container.decodeIfPresent(String.self, forKey: FieldKey(stringValue: "comment"))
        guard rating == "up" || rating == "down" else {
            throw KBError(.invalidArgument, "Field \"rating\" must be \"up\" or \"down\".", details: ["field": "rating"])
        }
    }
}

/// Which documents to list (`GET /v1/documents?folder=…&format=…`, MCP `list_documents`).
public struct DocumentsRequest: ServiceRequest, Equatable {
    public static let fields = ["folder", "format", "limit"]
    public var folder: String?
    public var format: String?
    /// At most this many documents, 1…10000.
    public var limit: Int?

    public init(folder: String? = nil, format: String? = nil, limit: Int? = nil) {
        self.folder = folder; self.format = format; self.limit = limit
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.fields)
        let container = try decoder.container(keyedBy: FieldKey.self)
        folder = try container.decodeIfPresent(String.self, forKey: FieldKey("folder"))
        format = try container.decodeIfPresent(String.self, forKey: FieldKey("format"))
        limit = try container.decodeIfPresent(Int.self, forKey: FieldKey("limit"))
        try Validate.range(limit, "limit", 1...10_000)
    }
}

/// `POST /v1/documents` (`Schemas/http/ingest-request.schema.json`).
public struct IngestRequest: ServiceRequest, Equatable {
    public static let fields = ["path", "embed"]
    /// A file or folder inside the knowledge folders (relative paths are taken inside the first one).
    public var path: String
    public var embed: Bool?

    public init(path: String, embed: Bool? = nil) {
        self.path = path
        self.embed = embed
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.fields)
        let container = try decoder.container(keyedBy: FieldKey.self)
        path = try container.decode(String.self, forKey: FieldKey(stringValue: "path"))
        embed = try container.decodeIfPresent(Bool.self, forKey: FieldKey(stringValue: "embed"))
    }
}

/// `POST /v1/chat/completions` (`Schemas/http/chat-completion-request.schema.json`): the fields kb reads; the other
/// fields OpenAI clients send are accepted and ignored.
public struct ChatCompletionRequest: ServiceRequest {
    public static let fields = [
        "model", "messages", "stream", "stream_options", "temperature", "top_p", "max_tokens", "max_completion_tokens",
        "seed", "n", "user", "stop", "presence_penalty", "frequency_penalty", "logit_bias", "response_format", "tools",
        "tool_choice", "parallel_tool_calls", "metadata", "store",
    ]

    /// One chat message; `content` is a string or an array of content parts (their `text` parts are read).
    public struct Message: Decodable, Sendable {
        public var role: String
        public var content: String

        enum CodingKeys: String, CodingKey { case role, content }
        struct Part: Decodable { var type: String?; var text: String? }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            guard let role = try? container.decode(String.self, forKey: .role) else {
                throw KBError(.invalidArgument, "Every message needs a \"role\".", details: ["field": "messages"])
            }
            self.role = role
            if let text = try? container.decode(String.self, forKey: .content) {
                content = text
            } else if let parts = try? container.decode([Part].self, forKey: .content) {
                content = parts.compactMap { $0.type == "text" ? $0.text : nil }.joined(separator: "\n")
            } else {
                content = ""
            }
        }
    }

    public var messages: [Message]
    public var stream: Bool

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.fields)
        let container = try decoder.container(keyedBy: FieldKey.self)
        let invalid = KBError(.invalidArgument, "Field \"messages\" must be a non-empty array of {role, content}.", details: ["field": "messages"])
        guard container.contains(FieldKey(stringValue: "messages")) else { throw invalid }
        do {
            messages = try container.decode([Message].self, forKey: FieldKey(stringValue: "messages"))
        } catch let error as KBError { throw error } catch { throw invalid }
        guard !messages.isEmpty else { throw invalid }
        stream = (try? container.decodeIfPresent(Bool.self, forKey: FieldKey(stringValue: "stream"))) ?? false
    }

    /// The question (the last user message) and the earlier user messages paired with the reply that followed each.
    public func conversation() throws(KBError) -> (question: String, prior: [(question: String, answer: String)]) {
        guard let lastIndex = messages.lastIndex(where: { $0.role == "user" }),
              !messages[lastIndex].content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw KBError(.invalidArgument, "The messages need a user message with text: the question.", details: ["field": "messages"])
        }
        var prior: [(question: String, answer: String)] = []
        for (index, message) in messages.enumerated() where message.role == "user" && index < lastIndex {
            let reply = messages[(index + 1)...].first(where: { $0.role == "assistant" })?.content ?? ""
            prior.append((message.content, reply))
        }
        return (messages[lastIndex].content, prior)
    }
}

/// A new user and token (`POST /v1/tokens`, `kb token create`).
public struct TokenRequest: ServiceRequest, Equatable {
    public static let fields = ["name", "role"]
    public var name: String
    public var role: UserRole

    public init(name: String, role: UserRole) {
        self.name = name
        self.role = role
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownFields(Self.fields)
        let container = try decoder.container(keyedBy: FieldKey.self)
        name = try container.decode(String.self, forKey: FieldKey("name"))
        let role = try container.decode(String.self, forKey: FieldKey("role"))
        guard let parsed = UserRole(rawValue: role) else {
            throw KBError(.invalidArgument, "Field \"role\" must be \"reader\", \"writer\" or \"admin\".", details: ["field": "role"])
        }
        self.role = parsed
    }
}
