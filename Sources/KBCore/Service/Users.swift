import Foundation

/// What a user of a shared knowledge base may do. Each role includes the ones before it.
public enum UserRole: String, Sendable, Codable, CaseIterable, Comparable {
    /// Searches, asks, reads documents and rates answers.
    case reader
    /// Also ingests and removes documents.
    case writer
    /// Also manages users and their tokens.
    case admin

    var rank: Int { UserRole.allCases.firstIndex(of: self)! }
    public static func < (a: UserRole, b: UserRole) -> Bool { a.rank < b.rank }
}

/// A user known to the knowledge base by an API token (kept only as its SHA-256).
public struct APIUser: Sendable, Codable, Equatable {
    public var name: String
    public var role: UserRole
    /// When the token was created (seconds since 1970).
    public var createdAt: Double

    public init(name: String, role: UserRole, createdAt: Double) {
        self.name = name
        self.role = role
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey { case name, role, createdAt = "created_at" }
}

/// A new token as `kb token create` prints it: shown once, never stored.
public struct IssuedToken: Sendable, Codable, Equatable {
    public var name: String
    public var role: UserRole
    public var token: String
}

/// `kb token list` and `GET /v1/tokens`.
public struct UserList: Sendable, Codable, Equatable {
    public var users: [APIUser]
}

/// What a presented token turned out to be.
public enum TokenCheck: Sendable, Equatable {
    /// The knowledge base has no users: tokens are not managed per user.
    case noUsers
    /// The token belongs to this user.
    case user(APIUser)
    /// Users exist and the token is none of theirs (or no token was presented).
    case unknown
}

/// Who is asking: a named user with a role, or the knowledge base's owner (the CLI on the machine, the single
/// `KB_API_TOKEN`, or a daemon without users), who may do everything.
public struct Caller: Sendable, Equatable {
    /// The user's name; nil for the owner.
    public var user: String?
    public var role: UserRole

    public init(user: String?, role: UserRole) {
        self.user = user
        self.role = role
    }

    /// The owner: every permission, no user name recorded.
    public static let owner = Caller(user: nil, role: .admin)

    /// Throws ``KBError/Code/forbidden`` unless the caller has at least `role`; `action` says what was refused.
    public func require(_ role: UserRole, to action: String) throws(KBError) {
        guard self.role >= role else {
            throw KBError(.forbidden, "\(user.map { "The user \($0)" } ?? "This caller") is a \(self.role.rawValue) and may not \(action); that needs a \(role.rawValue) token (kb token create --role \(role.rawValue)).")
        }
    }

    /// Whether the caller may see what `owner` (a conversation's user) keeps: their own, or everything for admins.
    func maySee(_ owner: String?) -> Bool { role == .admin || user == nil || owner == user }
}

/// Users and their API tokens, stored hashed in the knowledge base's database (both stores).
public protocol UserStore: Sendable {
    /// Adds a user; throws ``KBError/Code/invalidArgument`` when the name is taken.
    func createUser(name: String, role: UserRole, tokenHash: String) async throws(KBError)
    /// All users, by name.
    func users() async throws(KBError) -> [APIUser]
    /// Removes a user and so their token; false when there was none of that name.
    func revokeUser(name: String) async throws(KBError) -> Bool
    /// Who holds the token with this SHA-256 (hex), or whether there are no users at all.
    func checkToken(hash: String?) async throws(KBError) -> TokenCheck
}

extension KBError.Code {
    /// The request conflicts with what exists (a user name already taken).
    public static let conflict = KBError.Code(name: "conflict")
    /// The caller is known but its role does not allow the request.
    public static let forbidden = KBError.Code(name: "forbidden")
    /// No valid credentials were presented where they are needed.
    public static let unauthorized = KBError.Code(name: "unauthorized")
    /// The database server cannot be reached or went away mid-request; retrying later may work.
    public static let databaseUnavailable = KBError.Code(name: "database_unavailable")
}

extension KnowledgeBase {
    /// Creates a user with a new random token (256 bits, `kb_` and 64 hex digits), returned once; only its
    /// SHA-256 is stored.
    public func createToken(name: String, role: UserRole) async throws(KBError) -> IssuedToken {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 64,
              trimmed.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "._@-".unicodeScalars.contains($0) }) else {
            throw KBError(.invalidArgument, "A user name is 1 to 64 letters, digits, '.', '_', '@' or '-' (got \"\(name)\").", details: ["field": "name"])
        }
        let token = "kb_" + randomHex(32)
        try await store.createUser(name: trimmed, role: role, tokenHash: Self.tokenHash(token))
        return IssuedToken(name: trimmed, role: role, token: token)
    }

    /// The users, without their tokens.
    public func users() async throws(KBError) -> UserList { UserList(users: try await store.users()) }

    /// Removes a user; their token stops working at once (in every daemon on the same database).
    public func revokeToken(name: String) async throws(KBError) {
        guard try await store.revokeUser(name: name) else {
            throw KBError(.notFound, "There is no user \(name); `kb token list` shows them.", details: ["name": name])
        }
    }

    /// Who a bearer token stands for. `ownerToken` is the single token of a one-person setup (`KB_API_TOKEN`),
    /// which acts as the owner. Without users and without an owner token, everyone is the owner, unless
    /// `tokenRequired` (a daemon beyond loopback: revoking its last user must not open it to the network). Throws
    /// ``KBError/Code/unauthorized`` when a token is needed and the one presented (if any) is not valid.
    public func authenticate(bearer: String?, ownerToken: String?, tokenRequired: Bool = false) async throws(KBError) -> Caller {
        let presented = bearer.flatMap { $0.isEmpty ? nil : $0 }
        if let presented, let ownerToken, !ownerToken.isEmpty, constantTimeEquals(presented, ownerToken) { return .owner }
        switch try await store.checkToken(hash: presented.map(Self.tokenHash)) {
        case .user(let user): return Caller(user: user.name, role: user.role)
        case .noUsers where (ownerToken ?? "").isEmpty && !tokenRequired: return .owner
        case .noUsers, .unknown:
            throw KBError(.unauthorized, presented == nil ? "This endpoint needs Authorization: Bearer TOKEN (a user token from `kb token create`, or KB_API_TOKEN)."
                                                          : "The bearer token is not valid (revoked, or never issued).")
        }
    }

    static func tokenHash(_ token: String) -> String { SHA256.hex(token) }
}

/// Compares secrets in time that does not depend on where they differ.
public func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) {
        difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return difference == 0
}
