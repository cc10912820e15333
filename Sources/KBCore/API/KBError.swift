/// The one error type kb's library throws. Messages are complete sentences that say what went
/// wrong and what to do; ``code`` tells callers which kind of failure it is.
///
/// New codes can be added without breaking callers that switch over the ones they know.
public struct KBError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// Stable snake_case name, used as the `type` of JSON errors.
        public let name: String
        /// Process exit status the CLI uses for this kind of failure (sysexits-style).
        public let exitStatus: Int32

        public var description: String { name }

        public static let invalidArgument = Code(name: "invalid_argument", exitStatus: 64)
        public static let pathNotFound = Code(name: "path_not_found", exitStatus: 66)
        public static let noKnowledgeBase = Code(name: "no_knowledge_base", exitStatus: 66)
        public static let notAKnowledgeBase = Code(name: "not_a_knowledge_base", exitStatus: 65)
        public static let databaseCorrupt = Code(name: "database_corrupt", exitStatus: 65)
        public static let schemaTooNew = Code(name: "schema_too_new", exitStatus: 65)
        public static let databaseLocked = Code(name: "database_locked", exitStatus: 75)
        public static let ingestInProgress = Code(name: "ingest_in_progress", exitStatus: 75)
        public static let cannotOpenDatabase = Code(name: "cannot_open_database", exitStatus: 73)
        public static let io = Code(name: "io_error", exitStatus: 74)
        public static let configuration = Code(name: "configuration_error", exitStatus: 78)
        public static let interrupted = Code(name: "interrupted", exitStatus: 130)
        public static let database = Code(name: "database_error", exitStatus: 70)
        /// A path a client asked to ingest resolves outside the knowledge folders.
        public static let outsideKnowledgeFolders = Code(name: "outside_knowledge_folders", exitStatus: 64)
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func pathNotFound(_ path: String) -> KBError {
        KBError(.pathNotFound, "\(path): no such file or directory.")
    }

    static func emptyQuery(_ what: String = "query") -> KBError {
        KBError(.invalidArgument, "The \(what) is empty; give some words to search for.")
    }
}
