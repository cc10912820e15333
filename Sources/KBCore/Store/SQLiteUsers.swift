import Foundation

extension SQLiteStore: UserStore {
    public func createUser(name: String, role: UserRole, tokenHash: String) async throws(KBError) {
        try await write { connection throws(KBError) in
            guard try connection.scalar("SELECT count(*) FROM users WHERE name = ?", [name]).int == 0 else {
                throw KBError(.invalidArgument, "There is already a user \(name); revoke it first (kb token revoke \(name)) to issue a new token.",
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
