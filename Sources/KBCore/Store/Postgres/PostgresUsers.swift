import Foundation
import PostgresNIO

extension PostgresStore: UserStore {
    public func createUser(name: String, role: UserRole, tokenHash: String) async throws(KBError) {
        try await run {
            let inserted = try await client.query("""
                INSERT INTO users (name, role, token_hash, created_at) VALUES (\(name), \(role.rawValue), \(tokenHash), \(Date().timeIntervalSince1970))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """, logger: logger).collect().count
            guard inserted == 1 else {
                throw KBError(.invalidArgument, "There is already a user \(name); revoke it first (kb token revoke \(name)) to issue a new token.",
                              details: ["field": "name"])
            }
        }
    }

    public func users() async throws(KBError) -> [APIUser] {
        try await run {
            var out: [APIUser] = []
            for try await (name, role, created) in try await client.query("SELECT name, role, created_at FROM users ORDER BY name", logger: logger)
                .decode((String, String, Double).self) {
                out.append(APIUser(name: name, role: UserRole(rawValue: role) ?? .reader, createdAt: created))
            }
            return out
        }
    }

    public func revokeUser(name: String) async throws(KBError) -> Bool {
        try await run {
            try await client.query("DELETE FROM users WHERE name = \(name) RETURNING name", logger: logger).collect().count == 1
        }
    }

    public func checkToken(hash: String?) async throws(KBError) -> TokenCheck {
        try await run {
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
