/// The one error type kb's library throws. Messages are complete sentences that say what went
/// wrong and what to do; ``code`` tells callers which kind of failure it is, and ``details`` carries
/// the structured facts a front end may want (the field of a bad request, the path of a missing file).
///
/// New codes can be added without breaking callers that switch over the ones they know. The library does not
/// decide exit statuses or HTTP statuses: the CLI and the server map codes at their edges.
public struct KBError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// Stable snake_case name, used as the `type` of JSON errors.
        public let name: String

        public init(name: String) { self.name = name }

        public var description: String { name }

        public static let invalidArgument = Code(name: "invalid_argument")
        public static let pathNotFound = Code(name: "path_not_found")
        public static let noKnowledgeBase = Code(name: "no_knowledge_base")
        public static let notAKnowledgeBase = Code(name: "not_a_knowledge_base")
        public static let databaseCorrupt = Code(name: "database_corrupt")
        public static let schemaTooNew = Code(name: "schema_too_new")
        public static let databaseLocked = Code(name: "database_locked")
        public static let ingestInProgress = Code(name: "ingest_in_progress")
        public static let cannotOpenDatabase = Code(name: "cannot_open_database")
        public static let io = Code(name: "io_error")
        public static let configuration = Code(name: "configuration_error")
        public static let interrupted = Code(name: "interrupted")
        public static let database = Code(name: "database_error")
        /// A path a client asked to ingest resolves outside the knowledge folders.
        public static let outsideKnowledgeFolders = Code(name: "outside_knowledge_folders")
        /// A request for something that does not exist (a document, a conversation, an answer).
        public static let notFound = Code(name: "not_found")
        /// A bug in kb: an invariant did not hold.
        public static let internalError = Code(name: "internal_error")
    }

    public let code: Code
    public let message: String
    /// Structured facts about the failure, for example `field` for a bad request field or `path`.
    public let details: [String: String]

    public init(_ code: Code, _ message: String, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { message }

    static func pathNotFound(_ path: String) -> KBError {
        KBError(.pathNotFound, "\(path): no such file or directory.", details: ["path": path])
    }

    static func emptyQuery(_ what: String = "query") -> KBError {
        KBError(.invalidArgument, "The \(what) is empty; give some words to search for.", details: ["field": what])
    }
}
